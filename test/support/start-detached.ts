/**
 * Started as its own process by the lifecycle tests: creates and starts a container, then
 * exits while the container still runs, as `stack up -d` does.
 */
import { Containers } from '../../engine/runtime/containers.js';
import { minimalSpec } from './minimal-spec.js';

const arg = JSON.parse(process.argv[2]!);
const containers = new Containers(arg.paths);
await containers.create({
  id: arg.id,
  name: arg.id,
  spec: minimalSpec(['sh', '-c', 'echo before; sleep 0.5; echo after the starter exited'], { cgroupsPath: arg.cgroupsPath }),
  rootfs: { kind: 'overlay', lower: [arg.lower] },
  runtime: arg.runtime,
});
await containers.start(arg.id);
process.stdout.write('started\n');
