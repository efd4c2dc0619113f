using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace CatsDogs.ML.Features;

/// <summary>The arithmetic the backbones run in. Recorded in saved models; the head always runs in float32.</summary>
public enum Precision
{
    /// <summary>The backbone files as published, in 32-bit floats.</summary>
    Fp32,

    /// <summary>
    /// Each backbone quantized to 8-bit integers (QDQ, per-channel weights, calibrated activations; docs/quantization.md),
    /// in memory, from its float32 file and a calibration recorded in the saved model. CPU only.
    /// </summary>
    Int8,

    /// <summary>
    /// The default: training chooses <see cref="Int8"/> where it runs fast and holds the log loss — the backbones run on
    /// the CPU, the CPU has 8-bit dot-product instructions (<see cref="Precisions.CpuHasInt8DotProduct"/>) and every
    /// backbone names its feature map — and <see cref="Fp32"/> elsewhere (<see cref="FeatureOptions.TrainingPrecision"/>).
    /// Features computed without training (<see cref="FeaturePipeline"/>, the broker's workers) are float32. Never saved:
    /// a model records the precision it was trained in.
    /// </summary>
    Auto,
}

/// <summary>The names precisions have in saved models, on the command line and in messages.</summary>
public static class Precisions
{
    /// <summary>Every precision's name, in enum order: <c>fp32</c>, <c>int8</c>, <c>auto</c>.</summary>
    public static IReadOnlyList<string> Names { get; } = Enum.GetValues<Precision>().Select(Name).ToArray();

    /// <summary>The names a saved model can record: <c>fp32</c>, <c>int8</c>.</summary>
    internal static IReadOnlyList<string> SavedNames { get; } = [Name(Precision.Fp32), Name(Precision.Int8)];

    /// <summary>The lower-case name of <paramref name="precision"/> (<c>fp32</c>, <c>int8</c>, <c>auto</c>).</summary>
    public static string Name(Precision precision) => precision.ToString().ToLowerInvariant();

    /// <summary>The precision named <paramref name="name"/> (case-insensitive), or null.</summary>
    public static Precision? Parse(string? name) =>
        Enum.GetValues<Precision>().Cast<Precision?>().FirstOrDefault(p => string.Equals(Name(p!.Value), name, StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// Whether this CPU has the 8-bit dot-product instructions ONNX Runtime's int8 kernels are built on: AVX-VNNI or
    /// AVX-512 VNNI on x86-64, the dot-product extension on Arm64. Without them int8 convolutions run on AVX2's
    /// saturating 8-bit multiply-add (ONNX Runtime's reason for <c>reduce_range</c>) and gain little or nothing.
    /// </summary>
    public static bool CpuHasInt8DotProduct { get; } = DetectInt8DotProduct();

    private static bool DetectInt8DotProduct()
    {
        if (X86Base.IsSupported)
        {
            // CPUID leaf 7, sub-leaf 0: ECX bit 11 is AVX512_VNNI (usable only where the OS enabled AVX-512 state, which Avx512F reports).
            return AvxVnni.IsSupported || (Avx512F.IsSupported && (X86Base.CpuId(7, 0).Ecx & (1 << 11)) != 0);
        }

        return Dp.IsSupported;
    }
}
