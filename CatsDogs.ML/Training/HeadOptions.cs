namespace CatsDogs.ML.Training;

/// <summary>How the head is fitted on the features: its kind, the seed, the cross-validation and the L2 weights it chooses from.</summary>
public sealed record HeadOptions
{
    /// <summary>
    /// The kind of head (default <see cref="HeadKind.Logistic"/>); see <see cref="HeadKinds.Capabilities"/> for what
    /// each can do. The saved model records it.
    /// </summary>
    public HeadKind Kind { get; init; } = HeadKind.Logistic;

    /// <summary>Seed of every random choice (cross-validation folds); the same seed and data give the same head.</summary>
    public int Seed { get; init; } = 42;

    /// <summary>Stratified folds of the cross-validation that chooses the L2 weight (default 5; 2 to 20).</summary>
    public int Folds { get; init; } = 5;

    /// <summary>
    /// Training photos whose out-of-fold P(own label) is below this are treated as mislabelled (e.g. a "dog" photo
    /// that is a shelter sign) and left out of the final fit, as the original work cleaned its outliers; at most 2% of
    /// the photos. They are listed in <see cref="TrainingSummary.Excluded"/>. 0 keeps every photo. Default 0.05.
    /// </summary>
    public double MislabelThreshold { get; init; } = 0.05;

    /// <summary>
    /// L2 weights tried; the one with the lowest cross-validated log loss wins. Strong L2 is the measured optimum on
    /// pooled ImageNet features; weak L2 overfits. For <see cref="HeadKind.LightGbm"/> it is the L2 on leaf values.
    /// </summary>
    public IReadOnlyList<float> L2Grid { get; init; } = [3f, 10f, 20f, 30f, 50f, 100f, 200f, 300f, 1000f];

    /// <summary>Worker threads for the cross-validation (default: all cores).</summary>
    public int MaxDegreeOfParallelism { get; init; } = Environment.ProcessorCount;

    /// <summary>Largest number of folds accepted.</summary>
    public const int MaxFolds = 20;

    /// <summary>Checks every value; the message names the wrong one and its range.</summary>
    /// <exception cref="ArgumentException">A value is out of range.</exception>
    public HeadOptions Validate()
    {
        if (!Enum.IsDefined(Kind))
        {
            throw new ArgumentException($"Kind {(int)Kind} is not a head kind; the kinds are {string.Join(", ", HeadKinds.Names)}.");
        }

        if (Folds is < 2 or > MaxFolds)
        {
            throw new ArgumentException($"Folds must be between 2 and {MaxFolds}; got {Folds}.");
        }

        if (!(MislabelThreshold >= 0 && MislabelThreshold < 0.5))
        {
            throw new ArgumentException($"MislabelThreshold must be in [0, 0.5); got {MislabelThreshold}.");
        }

        if (L2Grid is not { Count: > 0 } || L2Grid.Any(l2 => !(float.IsFinite(l2) && l2 >= 0)))
        {
            throw new ArgumentException("The L2 grid must hold at least one finite, non-negative weight.");
        }

        if (MaxDegreeOfParallelism is < 1 or > 1024)
        {
            throw new ArgumentException($"MaxDegreeOfParallelism {MaxDegreeOfParallelism} is outside 1…1024.");
        }

        return this;
    }
}
