import type { Command } from 'commander';
import { registerAgentCommands } from './agents.js';
import { registerAnalyticsCommands } from './analytics.js';
import { registerContextCommands } from './context.js';
import { registerRunCommands } from './runs.js';
import { registerWorkflowCommands } from './workflows.js';

/** The commands that talk to a running server through the typed client (docs/cli.md). */
export function registerClientCommands(program: Command): void {
  registerAgentCommands(program);
  registerRunCommands(program);
  registerWorkflowCommands(program);
  registerContextCommands(program);
  registerAnalyticsCommands(program);
}
