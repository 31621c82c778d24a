import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';
import { nullTranslator, TranslationBundle } from '@jupyterlab/translation';

/** Error from the pexlab server extension, carrying its JSON `message`. */
export class PexlabAPIError extends Error {
  constructor(
    message: string,
    readonly status: number
  ) {
    super(message);
    this.name = 'PexlabAPIError';
  }
}

/**
 * Call the pexlab REST API under the server's base URL.
 *
 * Errors come back as `PexlabAPIError` with the server's `message` (handlers always answer
 * `{"message": ...}`), so the UI can show it verbatim; `trans` words the errors the
 * frontend itself detects.
 */
export async function requestAPI<T>(
  endPoint = '',
  init: RequestInit = {},
  settings: ServerConnection.ISettings = ServerConnection.makeSettings(),
  trans: TranslationBundle = nullTranslator.load('pexlab')
): Promise<T> {
  // The query string stays out of the path join (which normalizes the path).
  const [path, query] = endPoint.split(/\?(.*)/s, 2);
  const url =
    URLExt.join(settings.baseUrl, 'pexlab', path) + (query ? `?${query}` : '');
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    throw new PexlabAPIError(
      trans.__(
        'Cannot reach the Jupyter server: %1',
        (error as Error).message ?? String(error)
      ),
      0
    );
  }
  const text = await response.text();
  let data: any = null;
  if (text.length > 0) {
    try {
      data = JSON.parse(text);
    } catch {
      data = text;
    }
  }
  if (!response.ok) {
    const message =
      (data && typeof data === 'object' && data.message) ||
      (response.status === 404
        ? trans.__(
            'The pexlab server extension is not installed or not enabled.'
          )
        : `${response.status} ${response.statusText}`);
    throw new PexlabAPIError(String(message), response.status);
  }
  return data as T;
}
