/**
 * The ids of the extension's commands, in a file of their own: the commands, the views' actions,
 * the status bar and the layout restorer all run them, and none should import another for it.
 */
export namespace CommandIDs {
  export const open = 'envmgr:open';
  export const create = 'envmgr:create';
  export const openEnv = 'envmgr:open-env';
  export const disk = 'envmgr:disk';
  export const refresh = 'envmgr:refresh';
  export const newNotebook = 'envmgr:new-notebook';
  export const installIntoKernelEnv = 'envmgr:install-into-kernel-env';
  export const switchKernel = 'envmgr:switch-kernel';
}
