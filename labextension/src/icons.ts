import { LabIcon } from '@jupyterlab/ui-components';

import envsSvg from '../style/icons/envs.svg';

export const envsIcon = new LabIcon({
  name: 'jupyter-envmgr:envs',
  svgstr: envsSvg
});
