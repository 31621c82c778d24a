import { ServerConnection } from '@jupyterlab/services';
import { nullTranslator, TranslationBundle } from '@jupyterlab/translation';

import { requestAPI } from './api';
import {
  IArtifactListing,
  IBuild,
  IBuildRequest,
  IEnvironment,
  IEnvironmentQuery,
  IStamp
} from './tokens';

/**
 * The calls the panel model makes. An interface so the model's state machine can be unit
 * tested against a scripted server (jest); Galata covers the real server.
 */
export interface IPexlabClient {
  /** The environment, with the PEX state and resolved build for these choices. */
  getEnvironment(
    kernelId: string,
    query?: IEnvironmentQuery
  ): Promise<IEnvironment>;
  /** Cheap: the metadata stamp of the kernel's site folders (changes on any install). */
  getStamp(kernelId: string): Promise<IStamp>;
  startBuild(request: IBuildRequest): Promise<IBuild>;
  getBuild(id: string): Promise<IBuild>;
  listBuilds(): Promise<IBuild[]>;
  cancelBuild(id: string): Promise<IBuild | null>;
  /** The cache (PEX builds and editable zips), marked current against `kernelId`'s environment. */
  listArtifacts(kernelId?: string): Promise<IArtifactListing>;
  deleteArtifact(fingerprint: string): Promise<void>;
}

export class RestClient implements IPexlabClient {
  constructor(trans: TranslationBundle = nullTranslator.load('pexlab')) {
    this._trans = trans;
  }

  private _request<T>(endPoint: string, init: RequestInit = {}): Promise<T> {
    return requestAPI<T>(
      endPoint,
      init,
      ServerConnection.makeSettings(),
      this._trans
    );
  }

  getEnvironment(
    kernelId: string,
    query?: IEnvironmentQuery
  ): Promise<IEnvironment> {
    const params = new URLSearchParams();
    if (query) {
      params.set('options', JSON.stringify(query.options));
      if (query.storage) {
        params.set('storage', query.storage);
      }
      if (query.master) {
        params.set('master', query.master);
      }
    }
    const search = params.toString();
    return this._request<IEnvironment>(
      `kernels/${encodeURIComponent(kernelId)}/environment` +
        (search ? `?${search}` : '')
    );
  }

  getStamp(kernelId: string): Promise<IStamp> {
    return this._request<IStamp>(
      `kernels/${encodeURIComponent(kernelId)}/stamp`
    );
  }

  startBuild(request: IBuildRequest): Promise<IBuild> {
    return this._request<IBuild>('builds', {
      method: 'POST',
      body: JSON.stringify(request)
    });
  }

  getBuild(id: string): Promise<IBuild> {
    return this._request<IBuild>(`builds/${encodeURIComponent(id)}`);
  }

  async listBuilds(): Promise<IBuild[]> {
    return (await this._request<{ builds: IBuild[] }>('builds')).builds;
  }

  async cancelBuild(id: string): Promise<IBuild | null> {
    return this._request<IBuild | null>(`builds/${encodeURIComponent(id)}`, {
      method: 'DELETE'
    });
  }

  listArtifacts(kernelId?: string): Promise<IArtifactListing> {
    return this._request<IArtifactListing>(
      'artifacts' +
        (kernelId ? `?kernel_id=${encodeURIComponent(kernelId)}` : '')
    );
  }

  async deleteArtifact(fingerprint: string): Promise<void> {
    await this._request<unknown>(
      `artifacts/${encodeURIComponent(fingerprint)}`,
      {
        method: 'DELETE'
      }
    );
  }

  private _trans: TranslationBundle;
}
