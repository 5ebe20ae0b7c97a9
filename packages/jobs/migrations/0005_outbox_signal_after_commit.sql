-- New job_events rows are announced by the process that wrote them, after its commit
-- (outbox.signal.ts), instead of by this trigger inside the writing transaction: Postgres holds one
-- database-wide lock from a notifying commit's pre-commit to its end, WAL flush included, so every
-- api insert and every worker claim and completion committed one at a time, and each commit woke
-- every listening backend of the database.
DROP TRIGGER job_events_notify_outbox ON job_events;
DROP FUNCTION conveyor_notify_outbox();
