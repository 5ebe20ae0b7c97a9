// Preloaded with NODE_OPTIONS=--import into Conveyor's services when BENCH_PROFILE=1: Node 20 refuses
// --cpu-prof in NODE_OPTIONS, and the services are started without extra argv. Writes
// <BENCH_PROFILE_DIR>/<service>-<pid>.cpuprofile when the process exits (SIGTERM drains, then exits).
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import path from 'node:path';
import process from 'node:process';

const match = /services\/([^/]+)\/dist\/main\.js$/.exec(process.argv[1] || '');
const dir = process.env.BENCH_PROFILE_DIR;
if (match && dir) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: 1000 });
  session.post('Profiler.start');
  process.on('exit', () => {
    // The same-thread session answers synchronously, so this completes inside the exit handler.
    session.post('Profiler.stop', (error, result) => {
      if (!error) writeFileSync(path.join(dir, `${match[1]}-${process.pid}.cpuprofile`), JSON.stringify(result.profile));
    });
  });
}
