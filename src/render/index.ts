export {
  firewallLayout,
  manifestText,
  type RenderOptions,
  renderGateway,
  renderMesh,
  sha256,
} from './render.js';
export { defaultRolesDir, loadRoles, ROLES_DIR_ENV, type Role, RoleError, type Roles } from './roles.js';
export { writeRenderTree } from './tree.js';
