import { createServer } from 'node:net';
import { PortInUseError } from './errors.js';

/**
 * Checks that `port` on 127.0.0.1 can be listened on and gives the port a listener
 * would get (a free one for 0). A taken port is a PortInUseError naming `flag`, the
 * option that chose it.
 */
export async function assertPortFree(port: number, flag?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (error: NodeJS.ErrnoException) => {
      reject(error.code === 'EADDRINUSE' ? new PortInUseError(port, flag) : error);
    });
    probe.listen(port, '127.0.0.1', () => {
      const address = probe.address();
      const chosen = typeof address === 'object' && address ? address.port : port;
      probe.close(() => resolve(chosen));
    });
  });
}
