using CatsDogs.ML.Data;

namespace CatsDogs.ML.Training;

/// <summary>What training did: data used, the regularisation search and the chosen head.</summary>
public sealed record TrainingSummary
{
    /// <summary>Usable labelled photos (the final head was fitted on these minus <see cref="Excluded"/>).</summary>
    public required int TrainedOn { get; init; }

    /// <summary>Cats among them.</summary>
    public required int Cats { get; init; }

    /// <summary>Dogs among them.</summary>
    public required int Dogs { get; init; }

    /// <summary>Photos skipped (unreadable or undecodable), with reasons.</summary>
    public required IReadOnlyList<SkippedImage> Skipped { get; init; }

    /// <summary>Every L2 weight tried, with its cross-validated log loss and accuracy.</summary>
    public required IReadOnlyList<RegularizationTrial> Trials { get; init; }

    /// <summary>The chosen trial; the final head was refitted with its L2 weight.</summary>
    public required RegularizationTrial Best { get; init; }

    /// <summary>Cross-validation folds used to choose the L2 weight.</summary>
    public int Folds { get; init; }

    /// <summary>Photos left out of the final fit because the out-of-fold model confidently contradicted their label.</summary>
    public IReadOnlyList<ExcludedImage> Excluded { get; init; } = [];

    /// <summary>
    /// The symmetric clip [c, 1 − c] of P(dog) that minimises the log loss of the out-of-fold predictions at the chosen
    /// L2 weight (every training photo, mislabelled ones included): what <c>catsdogs submit --clip auto</c> uses.
    /// <c>null</c> for models that did not record it.
    /// </summary>
    public double? SubmissionClip { get; init; }

    /// <summary>Seed used.</summary>
    public required int Seed { get; init; }

    /// <summary>Time spent extracting (or reading cached) features.</summary>
    public required TimeSpan FeatureTime { get; init; }

    /// <summary>Time spent choosing and fitting the head.</summary>
    public required TimeSpan HeadTime { get; init; }
}

/// <summary>A training photo left out of the final fit as likely mislabelled.</summary>
/// <param name="Image">The photo.</param>
/// <param name="LabelProbability">The out-of-fold model's probability of the photo's own label.</param>
public sealed record ExcludedImage(ImageEntry Image, double LabelProbability);
