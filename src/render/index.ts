export { FIREWALL_UNIT, gatewayPaths, tunnelUnitName } from './paths.js';
export { manifestText, type RenderOptions, renderGateway, renderMesh, sha256 } from './render.js';
export { defaultRolesDir, loadRoles, type Role, RoleError, type Roles } from './roles.js';
export { writeRenderTree } from './tree.js';
