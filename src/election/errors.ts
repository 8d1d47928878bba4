// Errors of the election module. One class per condition, each with a stable `name`.

/**
 * A setting (timing, domain) that cannot work. The message names every offending setting, its value and
 * how to fix it, so that the CLI can print it as is; `settings` lists the names for programs.
 */
export class SettingsError extends Error {
  override readonly name = 'SettingsError'
  readonly settings: readonly string[]

  constructor(problems: ReadonlyArray<{setting: string, message: string}>) {
    super(problems.map((p) => p.message).join('; '))
    this.settings = [...new Set(problems.map((p) => p.setting))]
  }
}
