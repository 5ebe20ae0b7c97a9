/** JobSchedules shared by the scheduler (which fires them) and the api (which manages them over HTTP). */
export * from './job-schedule.js';
export * from './table.js';
