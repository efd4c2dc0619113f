namespace CatsDogs.ML.Training;

/// <summary>The kinds of head that turn a photo's features into P(dog); a saved model records its kind.</summary>
public enum HeadKind
{
    /// <summary>L2-regularised logistic regression (ML.NET's L-BFGS): a linear form, so CAM and ONNX export work. The default.</summary>
    Logistic,

    /// <summary>Gradient-boosted trees (ML.NET's LightGBM): no linear form, so no CAM and no ONNX export.</summary>
    LightGbm,
}

/// <summary>What a kind of head can do besides giving P(dog).</summary>
/// <param name="HasLinearForm">
/// The head is one affine function of the features followed by a calibrator: class activation maps
/// (<see cref="CatsDogsClassifier.CreateExplainer"/>) and ONNX export (<see cref="CatsDogsClassifier.ExportOnnx"/>) need it.
/// </param>
/// <param name="Calibration">How its score becomes a probability, in plain words.</param>
public sealed record HeadCapabilities(bool HasLinearForm, string Calibration);

/// <summary>The text names of <see cref="HeadKind"/> (as the command line and the saved model spell them) and each kind's capabilities.</summary>
public static class HeadKinds
{
    /// <summary>Every kind's name, the default first: <c>logistic</c>, <c>lightgbm</c>.</summary>
    public static IReadOnlyList<string> Names { get; } = HeadTrainers.All.Select(t => t.Name).ToArray();

    /// <summary>The name of <paramref name="kind"/> (<c>logistic</c>, <c>lightgbm</c>).</summary>
    public static string Name(HeadKind kind) => HeadTrainers.Of(kind).Name;

    /// <summary>What <paramref name="kind"/> can do.</summary>
    public static HeadCapabilities Capabilities(HeadKind kind) => HeadTrainers.Of(kind).Capabilities;

    /// <summary>The kind named <paramref name="name"/> (case-insensitive).</summary>
    /// <exception cref="ArgumentException">No kind has that name; the message lists the names.</exception>
    public static HeadKind Parse(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return HeadTrainers.All.FirstOrDefault(t => string.Equals(t.Name, name.Trim(), StringComparison.OrdinalIgnoreCase))?.Kind
            ?? throw new ArgumentException($"Unknown head kind '{name}'; the kinds are {string.Join(", ", Names)}.");
    }
}
