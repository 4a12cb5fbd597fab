// The one SDK entry point this plugin uses; OpenClaw provides the module when it loads the
// plugin, so the build needs only its shape.
declare module "openclaw/plugin-sdk/plugin-entry" {
  export function definePluginEntry<T extends { id: string; name: string; description: string; register(api: unknown): void }>(
    entry: T,
  ): T;
}
