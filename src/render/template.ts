import { Liquid, type Template } from 'liquidjs';
import { renderParsedSync } from './liquid-sync.js';
import { type Role, RoleError, type Roles } from './roles.js';

/**
 * Renders one role template with liquidjs, synchronously and without any I/O: each role gets an engine whose
 * partials come from the role's own in-memory templates, never from the file system. An undefined variable or
 * filter is an error (a typo in a template must not silently render an empty directive).
 */

interface CompiledRole {
  engine: Liquid;
  parsed: Map<string, Template[]>;
}

// Parsing is deterministic, so caching parsed templates per loaded role keeps rendering pure and makes
// rendering a large mesh parse each template once.
const compiled = new WeakMap<Role, CompiledRole>();

function compiledRole(role: Role): CompiledRole {
  let entry = compiled.get(role);
  if (!entry) {
    const engine = new Liquid({
      strictVariables: true,
      strictFilters: true,
      ownPropertyOnly: true,
      greedy: false,
      templates: Object.fromEntries(role.templates),
    });
    entry = { engine, parsed: new Map() };
    compiled.set(role, entry);
  }
  return entry;
}

export function renderTemplate(
  roles: Roles,
  roleName: string,
  templateName: string,
  vars: Record<string, unknown>,
): string {
  const role = roles.roles.get(roleName);
  const where = `${roles.dir}/${roleName}/templates/${templateName}`;
  if (!role) {
    throw new RoleError(
      `role ${roleName} is missing from ${roles.dir}: restore ${roleName}/ from the meshctl package`,
    );
  }
  const text = role.templates.get(templateName);
  if (text === undefined) {
    throw new RoleError(`template ${where} is missing: restore it from the meshctl package`);
  }
  const { engine, parsed } = compiledRole(role);
  try {
    let template = parsed.get(templateName);
    if (!template) {
      template = engine.parse(text, templateName);
      parsed.set(templateName, template);
    }
    // meshctl's computed values win over defaults.yml, so a default can never redirect a path or a peer
    // a shallow copy: a template's own assignments ({% assign %}, {% increment %}) must not reach the caller's
    // variables, which render hands to several templates in turn
    return renderParsedSync(engine, template, { ...vars }, role.defaults);
  } catch (error) {
    throw new RoleError(
      `template ${where} failed: ${(error as Error).message}; fix the template, or define the variable in ${roleName}/defaults.yml`,
    );
  }
}
