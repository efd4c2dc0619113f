namespace CatsDogs.ML.Features;

/// <summary>The arithmetic the backbones run in. Recorded in saved models; the head always runs in float32.</summary>
public enum Precision
{
    /// <summary>The backbone files as published, in 32-bit floats (the default).</summary>
    Fp32,

    /// <summary>
    /// Each backbone quantized to 8-bit integers (QDQ, per-channel weights, calibrated activations; docs/quantization.md),
    /// in memory, from its float32 file and a calibration recorded in the saved model. CPU only.
    /// </summary>
    Int8,
}

/// <summary>The names precisions have in saved models, on the command line and in messages.</summary>
public static class Precisions
{
    /// <summary>Every precision's name, in enum order: <c>fp32</c>, <c>int8</c>.</summary>
    public static IReadOnlyList<string> Names { get; } = Enum.GetValues<Precision>().Select(Name).ToArray();

    /// <summary>The lower-case name of <paramref name="precision"/> (<c>fp32</c>, <c>int8</c>).</summary>
    public static string Name(Precision precision) => precision.ToString().ToLowerInvariant();

    /// <summary>The precision named <paramref name="name"/> (case-insensitive), or null.</summary>
    public static Precision? Parse(string? name) =>
        Enum.GetValues<Precision>().Cast<Precision?>().FirstOrDefault(p => string.Equals(Name(p!.Value), name, StringComparison.OrdinalIgnoreCase));
}
