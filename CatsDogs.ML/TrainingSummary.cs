using CatsDogs.ML.Training;

namespace CatsDogs.ML;

/// <summary>What training did: data used, the regularisation search and the chosen head.</summary>
public sealed record TrainingSummary
{
    /// <summary>Photos whose features trained the head.</summary>
    public required int TrainedOn { get; init; }

    /// <summary>Cats among them.</summary>
    public required int Cats { get; init; }

    /// <summary>Dogs among them.</summary>
    public required int Dogs { get; init; }

    /// <summary>Photos skipped (unreadable or undecodable), with reasons.</summary>
    public required IReadOnlyList<SkippedImage> Skipped { get; init; }

    /// <summary>Every L2 weight tried, with its validation log loss and accuracy.</summary>
    public required IReadOnlyList<RegularizationTrial> Trials { get; init; }

    /// <summary>The chosen trial; the final head was refitted on all photos with its L2 weight.</summary>
    public required RegularizationTrial Best { get; init; }

    /// <summary>Seed used.</summary>
    public required int Seed { get; init; }

    /// <summary>Time spent extracting (or reading cached) features.</summary>
    public required TimeSpan FeatureTime { get; init; }

    /// <summary>Time spent choosing and fitting the head.</summary>
    public required TimeSpan HeadTime { get; init; }
}
