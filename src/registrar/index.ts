// The registrar capability's public surface, for routing/ and server.ts.
export { Registrar, type RegistrarOptions, type RegistrationPolicy, type SaveResult } from './registrar.ts';
export { Authenticator, type AuthenticatorOptions, type AuthResult } from './authenticate.ts';
export { orderBindings, bindingTarget, destinationOf, dialogTarget, type LookupResult } from './lookup.ts';
export { Nodes, FLOW_PARAM, type NodesOptions } from './nodes.ts';
