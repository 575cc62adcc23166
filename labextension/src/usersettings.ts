/**
 * The user's settings of the plugin (schema/plugin.json), followed as they change. Not the
 * model's `settings`: those are the server's conda settings.
 */
import { ISettingRegistry } from '@jupyterlab/settingregistry';

import { EnvManagerModel } from './model';

/** What the views read of the user's settings; the model takes the poll interval itself. */
export interface IUserSettings {
  measureSizes: boolean;
  /** Hold cells run before the kernel is ready in every notebook, not only ours. */
  holdEarlyRuns: boolean;
}

/**
 * The settings as they load and change (the schema's defaults until then, or for good when
 * there is no registry).
 */
export function followUserSettings(
  registry: ISettingRegistry | null,
  pluginId: string,
  model: EnvManagerModel
): IUserSettings {
  const current: IUserSettings = { measureSizes: true, holdEarlyRuns: true };
  if (registry) {
    void registry.load(pluginId).then(
      settings => {
        const apply = () => {
          model.pollInterval = settings.get('pollInterval').composite as number;
          current.measureSizes = settings.get('measureSizes')
            .composite as boolean;
          current.holdEarlyRuns = settings.get('holdEarlyRuns')
            .composite as boolean;
        };
        apply();
        settings.changed.connect(apply);
      },
      error => console.warn('jupyter-envmgr: settings not loaded', error)
    );
  }
  return current;
}
