import { allocateMesh } from '../../../src/mesh/allocate.js';
import { buildInventory } from '../../helpers/inventory.js';

/** The mesh of the add-lan advice tests: ids 1, 2 and 5 (pairs 1, 7 and 8), two LANs with two subnets each. */
export const adviceMesh = allocateMesh(
  buildInventory([
    { name: 'hq', id: 1, subnets: ['10.1.0.0/16', '192.168.1.0/24'] },
    { name: 'branch', id: 2, subnets: ['10.2.0.0/16'] },
    { name: 'cloud', id: 5, subnets: ['10.5.0.0/16', '10.55.0.0/16'] },
  ]),
);
