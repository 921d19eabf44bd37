/**
 * FNV-1a, 32 bits: small, fast, and the same on every run and platform.
 * Used where svcproxy needs a stable number from a text: the preferred
 * address of a name in a range (state/address-allocator.ts) and the hash of
 * a workload's Pod template (config/workload.ts), as Kubernetes' ComputeHash
 * uses FNV-32a for pod-template-hash.
 */
export function fnv1a32(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619) >>> 0;
  return h;
}
