// Writes a realistic stack file with N services (web/api/worker/db/cache shapes, long and
// short syntax, healthchecks, dependencies between tiers) to the given path.
import { writeFileSync } from 'node:fs';

export function generateStackFile(file, n) {
  const lines = ['x-common: &common', '  restart: unless-stopped', '  logging:', '    driver: json-file', '    options: {max-size: 10m}', 'services:'];
  for (let i = 0; i < n; i++) {
    const tier = i % 5;
    lines.push(`  svc${i}:`, '    <<: *common');
    lines.push(tier === 3 ? '    image: postgres:16' : `    image: registry.example.com/team/app${i}:\${TAG:-latest}`);
    lines.push('    environment:', `      SERVICE_INDEX: "${i}"`, '      LOG_LEVEL: ${LOG_LEVEL:-info}', `      PEER: svc${(i + 1) % n}`);
    lines.push('    ports:', `      - "${20000 + i}:80"`, `      - target: 9${String(i).padStart(3, '0')}`, '        protocol: tcp');
    lines.push('    volumes:', `      - data${i}:/var/lib/data`, '      - ./config:/etc/app:ro');
    lines.push('    healthcheck:', '      test: ["CMD-SHELL", "wget -qO- http://localhost/health || exit 1"]', '      interval: 10s', '      timeout: 3s', '      retries: 5', '      start_period: 1m30s');
    lines.push('    deploy:', '      resources:', '        limits: {cpus: "0.5", memory: 512M}');
    if (i >= 5) {
      lines.push('    depends_on:', `      svc${i - 5}:`, '        condition: service_healthy', `      svc${i - 1}:`, '        condition: service_started');
    }
    lines.push('    networks: [front, back]');
  }
  lines.push('networks:', '  front: {}', '  back:', '    internal: true', 'volumes:');
  for (let i = 0; i < n; i++) lines.push(`  data${i}: {}`);
  writeFileSync(file, `${lines.join('\n')}\n`);
}
