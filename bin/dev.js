#!/usr/bin/env -S node --import tsx
// Development entry point: runs the TypeScript commands under src/ without a build.
import {execute} from '@oclif/core'

await execute({development: true, dir: import.meta.url})
