using System.Runtime.InteropServices;

namespace CatsDogs.ML.Onnx;

/// <summary>
/// Hands memory that a large, finished piece of work left free back to the operating system, so that the next large
/// allocation (an ONNX Runtime session) does not stack on top of it: the garbage collector's free regions, then glibc's
/// free heap pages (<c>malloc_trim</c>). Measured on ResNet18 (docs/quantization.md): building the int8 graph leaves
/// about 150 MB of garbage, and a disposed calibration session about 160 MB in glibc's free lists, which the process
/// would otherwise keep, peaking above the float32 path.
/// </summary>
internal static partial class ProcessMemory
{
    /// <summary>Collects every generation, compacting and decommitting, then trims glibc's heap (nothing else off glibc).</summary>
    public static void Release()
    {
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        try
        {
            _ = malloc_trim(0);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            // musl and other C libraries have no malloc_trim: their allocator keeps its own policy.
        }
    }

    [LibraryImport("libc", EntryPoint = "malloc_trim")]
    private static partial int malloc_trim(nuint pad);
}
