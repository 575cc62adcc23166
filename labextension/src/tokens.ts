import { Token } from '@lumino/coreutils';

import { EnvModel } from './envmodel';
import { EnvManagerModel } from './model';

/** The environments manager, for other extensions: its model and its views. */
export interface IEnvManager {
  readonly model: EnvManagerModel;
  /** Open (or show) the view of the env `name`; its state. */
  openEnv(name: string): EnvModel;
}

export const IEnvManager = new Token<IEnvManager>(
  'jupyter-envmgr:IEnvManager',
  'Conda environments: their model (environments, kernels, tasks) and views.'
);
