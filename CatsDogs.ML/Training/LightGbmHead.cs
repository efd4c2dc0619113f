using Microsoft.ML;
using Microsoft.ML.Trainers.LightGbm;

namespace CatsDogs.ML.Training;

/// <summary>
/// Gradient-boosted trees on the scaled features (ML.NET's LightGBM; its sigmoid gives P(dog)). The L2 weight the
/// cross-validation chooses is LightGBM's L2 on leaf values. A sum of trees has no linear form: no CAM, no ONNX export.
/// </summary>
internal sealed class LightGbmHead : MlNetHead
{
    /// <summary>Trees and their size: the bench's quality probe settings (16 leaves, learning rate 0.05), fewer rounds.</summary>
    private const int Trees = 200;
    private const int Leaves = 16;
    private const double LearningRate = 0.05;

    private LightGbmHead(MLContext ml, ITransformer model, int dimension, FeatureScaler scaler)
        : base(ml, model, dimension, scaler)
    {
    }

    public override HeadKind Kind => HeadKind.LightGbm;

    public override LinearForm? LinearForm => null;

    /// <summary>Fits on already-scaled features, single-threaded and deterministic for a given <paramref name="seed"/>.</summary>
    public static LightGbmHead Fit(IReadOnlyList<float[]> scaled, IReadOnlyList<bool> isDog, float l2, int seed, FeatureScaler scaler)
    {
        var ml = new MLContext(seed);
        var trainer = ml.BinaryClassification.Trainers.LightGbm(new LightGbmBinaryTrainer.Options
        {
            LabelColumnName = LabelColumn,
            FeatureColumnName = FeaturesColumn,
            NumberOfIterations = Trees,
            NumberOfLeaves = Leaves,
            LearningRate = LearningRate,
            // LightGBM's 20 photos a leaf would leave a small training set without a split.
            MinimumExampleCountPerLeaf = Math.Clamp(scaled.Count / 50, 2, 20),
            Booster = new GradientBooster.Options { L2Regularization = l2 },
            Seed = seed,
            Deterministic = true,
            NumberOfThreads = 1,
            Verbose = false,
            Silent = true,
        });
        return new LightGbmHead(ml, Fit(ml, trainer, scaled, isDog), scaled[0].Length, scaler);
    }

    /// <summary>Loads a head saved by <see cref="MlNetHead.Save"/>.</summary>
    public static LightGbmHead Load(Stream stream, int dimension, FeatureScaler scaler)
    {
        var ml = new MLContext(0);
        // ML.NET finds the loaders of a model's components in the assemblies it was told about.
        ml.ComponentCatalog.RegisterAssembly(typeof(LightGbmBinaryModelParameters).Assembly);
        return new LightGbmHead(ml, ml.Model.Load(stream, out _), dimension, scaler);
    }
}

/// <summary>The LightGBM kind: <see cref="LightGbmHead"/>.</summary>
internal sealed class LightGbmHeadTrainer : IHeadTrainer
{
    public HeadKind Kind => HeadKind.LightGbm;

    public string Name => "lightgbm";

    public HeadCapabilities Capabilities { get; } = new(HasLinearForm: false, "LightGBM's sigmoid of the sum of the trees (not refitted)");

    public IHead Fit(IReadOnlyList<float[]> scaled, IReadOnlyList<bool> isDog, float l2, int seed, FeatureScaler scaler) =>
        LightGbmHead.Fit(scaled, isDog, l2, seed, scaler);

    public IHead Load(Stream stream, int dimension, FeatureScaler scaler) => LightGbmHead.Load(stream, dimension, scaler);
}
