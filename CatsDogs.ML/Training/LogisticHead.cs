using Microsoft.ML;
using Microsoft.ML.Calibrators;
using Microsoft.ML.Trainers;

namespace CatsDogs.ML.Training;

/// <summary>
/// The default head: a <see cref="FeatureScaler"/> (standardisation and backbone block weights) followed by ML.NET's
/// L-BFGS logistic regression on the concatenated features, giving P(dog). It has a linear form, which class
/// activation maps and the ONNX export use.
/// </summary>
internal sealed class LogisticHead : MlNetHead
{
    private LogisticHead(MLContext ml, ITransformer model, int dimension, FeatureScaler scaler)
        : base(ml, model, dimension, scaler)
    {
        LinearForm = ComputeLinearForm();
    }

    public override HeadKind Kind => HeadKind.Logistic;

    /// <summary>The scaler folded into the weights, with the Platt calibrator (for a logistic regression slope −1 and offset 0).</summary>
    public override LinearForm LinearForm { get; }

    /// <summary>
    /// Fits the logistic regression on already-scaled features with L2 weight <paramref name="l2"/> (no L1),
    /// single-threaded and so deterministic; <paramref name="scaler"/> is what <see cref="MlNetHead.Predict"/> will apply.
    /// </summary>
    public static LogisticHead Fit(IReadOnlyList<float[]> scaled, IReadOnlyList<bool> isDog, float l2, int seed, FeatureScaler scaler)
    {
        var ml = new MLContext(seed);
        var trainer = ml.BinaryClassification.Trainers.LbfgsLogisticRegression(new LbfgsLogisticRegressionBinaryTrainer.Options
        {
            LabelColumnName = LabelColumn,
            FeatureColumnName = FeaturesColumn,
            L1Regularization = 0,
            L2Regularization = l2,
            NumberOfThreads = 1,
            OptimizationTolerance = 1e-8f,
            MaximumNumberOfIterations = 1000,
        });
        return new LogisticHead(ml, Fit(ml, trainer, scaled, isDog), scaled[0].Length, scaler);
    }

    /// <summary>Loads a head saved by <see cref="MlNetHead.Save"/>, with the scaler saved beside it.</summary>
    /// <exception cref="FormatException">It is not a Platt-calibrated linear model of <paramref name="dimension"/> finite weights.</exception>
    public static LogisticHead Load(Stream stream, int dimension, FeatureScaler scaler)
    {
        var ml = new MLContext(0);
        return new LogisticHead(ml, ml.Model.Load(stream, out _), dimension, scaler);
    }

    private LinearForm ComputeLinearForm()
    {
        var (linear, platt) = Parameters switch
        {
            CalibratedModelParametersBase<LinearBinaryModelParameters, PlattCalibrator> p => (p.SubModel, p.Calibrator),
            CalibratedModelParametersBase<LinearBinaryModelParameters, ICalibrator> { Calibrator: PlattCalibrator c } p => (p.SubModel, c),
            var other => throw new FormatException($"the logistic head's model is {other?.GetType().Name ?? "missing"}, not a Platt-calibrated linear model"),
        };
        var w = linear.Weights;
        if (w.Count != Dimension)
        {
            throw new FormatException($"the logistic head has {w.Count} weights for {Dimension} features");
        }

        var weights = new float[Dimension];
        double bias = linear.Bias;
        for (var j = 0; j < Dimension; j++)
        {
            weights[j] = w[j] * Scaler.Scale[j];
            bias -= (double)weights[j] * Scaler.Mean[j];
        }

        if (!double.IsFinite(bias) || weights.Any(x => !float.IsFinite(x)) || !double.IsFinite(platt.Slope) || !double.IsFinite(platt.Offset))
        {
            throw new FormatException("the logistic head holds a weight that is not a finite number");
        }

        return new LinearForm(weights, bias, platt.Slope, platt.Offset);
    }
}

/// <summary>The logistic kind: <see cref="LogisticHead"/>.</summary>
internal sealed class LogisticHeadTrainer : IHeadTrainer
{
    public HeadKind Kind => HeadKind.Logistic;

    public string Name => "logistic";

    public HeadCapabilities Capabilities { get; } = new(HasLinearForm: true, "the logistic function of the linear score (ML.NET's Platt calibrator, slope −1)");

    public IHead Fit(IReadOnlyList<float[]> scaled, IReadOnlyList<bool> isDog, float l2, int seed, FeatureScaler scaler) =>
        LogisticHead.Fit(scaled, isDog, l2, seed, scaler);

    public IHead Load(Stream stream, int dimension, FeatureScaler scaler) => LogisticHead.Load(stream, dimension, scaler);
}
