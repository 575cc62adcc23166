/**
 * The translation bundle of the `jupyter_envmgr` gettext domain: every word the extension shows
 * goes through `trans.__` / `trans._n`, so a language pack for that domain translates it. The
 * plugin sets it once from JupyterLab's ITranslator (English when there is none) before any view
 * exists; modules read the live binding.
 */
import {
  ITranslator,
  TranslationBundle,
  nullTranslator
} from '@jupyterlab/translation';

export let trans: TranslationBundle = nullTranslator.load('jupyter_envmgr');

/** Use `translator`'s bundle of our domain from now on; the bundle. */
export function setTranslator(
  translator: ITranslator | null
): TranslationBundle {
  trans = (translator ?? nullTranslator).load('jupyter_envmgr');
  return trans;
}
