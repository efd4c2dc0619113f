using System.Runtime.InteropServices;

namespace CatsDogs.Web;

/// <summary>
/// glibc's malloc tuning for a long-lived process that decodes photos of every size. By default glibc raises its mmap
/// threshold each time a large block is freed, so later photo-sized blocks (SkiaSharp's decodes, ONNX Runtime's
/// buffers) come from the heap and their freed pages are kept. A fixed 128 KiB threshold hands every such block back to
/// the system when it is freed. Measured with <c>bench --web-load --worst-photos</c> (docs/web.md): the app's memory
/// after loading the model and explaining ordinary photos fell from 688 to 427 MB, and its peak with 8 clients sending
/// 8000 × 8000 PNGs from 1,311 to 1,032 MB. The same as <c>MALLOC_MMAP_THRESHOLD_=131072</c> in the environment,
/// which is left to win when set.
/// </summary>
internal static partial class NativeHeap
{
    private const int MmapThresholdParameter = -3; // M_MMAP_THRESHOLD in glibc's malloc.h
    private const int MmapThresholdBytes = 128 * 1024;

    /// <summary>Fixes glibc's mmap threshold; does nothing off Linux, on another C library, or when the environment sets it.</summary>
    public static void Tune()
    {
        if (!OperatingSystem.IsLinux() || Environment.GetEnvironmentVariable("MALLOC_MMAP_THRESHOLD_") is not null)
        {
            return;
        }

        try
        {
            _ = mallopt(MmapThresholdParameter, MmapThresholdBytes);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            // musl and other C libraries have no mallopt: their allocator keeps its own policy.
        }
    }

    [LibraryImport("libc", EntryPoint = "mallopt")]
    private static partial int mallopt(int parameter, int value);
}
