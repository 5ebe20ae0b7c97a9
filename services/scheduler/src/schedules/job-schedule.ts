// The JobSchedule model lives in @conveyor/jobs (the api validates schedules with it too).
export * from '@conveyor/jobs/schedules';
