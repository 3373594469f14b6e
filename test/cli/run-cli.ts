// Runs the tahoe-ts CLI from source (through tsx), so CLI tests need no build step.
import { main } from '../../src/cli/main.js';

await main(process.argv);
