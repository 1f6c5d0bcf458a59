/** The registry side of the engine, as the CLI uses it. */
export { CredentialStore, dockerConfigFile, type Credentials } from './credentials.js';
export { ImagePuller } from './image-puller.js';
export { pullImage, type PullEvent, type PullOptions, type PullResult } from './pull.js';
export { pushImage, type PushEvent, type PushOptions, type PushResult } from './push.js';
export { Registries } from './registries.js';
export { login, logout, registryOfServer } from './login.js';
