/// Numeric routines shared by op kernels. Portable Swift first; SIMD variants replace
/// them where a benchmark in `benchmarks/` shows the gain.
public enum NumericKernels {}
