export { FakeEcs } from './fake-ecs.js';
export type {
  FakeEcsFault,
  FakeEcsOperation,
  FakeEcsOptions,
  FakeEcsRequest,
  FakeEcsTaskInit,
} from './fake-ecs.js';
