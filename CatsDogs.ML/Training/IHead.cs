namespace CatsDogs.ML.Training;

/// <summary>
/// A fitted head: the <see cref="FeatureScaler"/> it was fitted after, then a kind-specific model giving P(dog).
/// <see cref="Predict"/> is thread-safe.
/// </summary>
internal interface IHead
{
    HeadKind Kind { get; }

    /// <summary>Feature vector length.</summary>
    int Dimension { get; }

    /// <summary>The scaler applied before the model (saved beside it).</summary>
    FeatureScaler Scaler { get; }

    /// <summary>The head as one affine function of the raw features plus its calibrator; <c>null</c> for a kind without one.</summary>
    LinearForm? LinearForm { get; }

    /// <summary>P(dog) for each (unscaled) feature vector.</summary>
    float[] Predict(IReadOnlyList<float[]> features);

    /// <summary>P(dog) and the score before calibration for each (unscaled) feature vector, in one pass.</summary>
    (float Probability, float Score)[] PredictWithScores(IReadOnlyList<float[]> features);

    /// <summary>P(dog) for feature vectors already passed through the scaler.</summary>
    float[] PredictScaled(IReadOnlyList<float[]> scaled);

    /// <summary>Saves the model (not the scaler) so that <see cref="IHeadTrainer.Load"/> of the same kind gives the same P(dog).</summary>
    void Save(Stream stream);
}

/// <summary>
/// A kind of head: fits one for a given regularisation weight and loads a saved one. <see cref="HeadTrainer"/> runs the
/// cross-validation, the mislabel cleaning and the final fit the same way for every kind.
/// </summary>
internal interface IHeadTrainer
{
    HeadKind Kind { get; }

    /// <summary>The kind's name in saved models and on the command line.</summary>
    string Name { get; }

    HeadCapabilities Capabilities { get; }

    /// <summary>Fits on already-scaled features with L2 weight <paramref name="l2"/>; deterministic for a given seed.</summary>
    IHead Fit(IReadOnlyList<float[]> scaled, IReadOnlyList<bool> isDog, float l2, int seed, FeatureScaler scaler);

    /// <summary>Loads what <see cref="IHead.Save"/> wrote.</summary>
    /// <exception cref="FormatException">The bytes are not a head of this kind and dimension.</exception>
    IHead Load(Stream stream, int dimension, FeatureScaler scaler);
}

/// <summary>
/// A head as score = <see cref="Bias"/> + Σ_j <see cref="Weights"/>[j]·f_j on the raw (unscaled) features, and
/// P(dog) = 1 / (1 + exp(<see cref="Slope"/> × score + <see cref="Offset"/>)).
/// </summary>
internal sealed record LinearForm(float[] Weights, double Bias, double Slope, double Offset);

/// <summary>Every kind of head, the default first.</summary>
internal static class HeadTrainers
{
    public static IReadOnlyList<IHeadTrainer> All { get; } = [new LogisticHeadTrainer(), new LightGbmHeadTrainer()];

    public static IHeadTrainer Of(HeadKind kind) => All.FirstOrDefault(t => t.Kind == kind)
        ?? throw new ArgumentException($"Unknown head kind {(int)kind}; the kinds are {string.Join(", ", All.Select(t => t.Name))}.");

    /// <summary>The kind a saved model names, or <c>null</c>.</summary>
    public static IHeadTrainer? Named(string name) => All.FirstOrDefault(t => t.Name == name);

    /// <summary>The refusal of an operation that needs the linear form, in one line.</summary>
    public static InvalidOperationException NoLinearForm(HeadKind kind, string operation) =>
        new($"{operation} needs a head with a linear form, and this model's head is {Of(kind).Name}; train the model with --head {All[0].Name} (HeadOptions.Kind = HeadKind.{All[0].Kind}) to use it.");
}
