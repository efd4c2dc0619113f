using CatsDogs.ML.Data;
using CatsDogs.ML.Features;

namespace CatsDogs.ML.Training;

/// <summary>
/// "Check labels → extract → check each class": the first steps of every labelled workflow (training, the fusion
/// report, the audit), in one place.
/// </summary>
internal static class LabelledFeatures
{
    /// <summary>The features of the usable labelled photos and their labels.</summary>
    /// <param name="extractor">The backbones and views.</param>
    /// <param name="photos">Labelled photos.</param>
    /// <param name="purpose">The workflow in words, e.g. "training".</param>
    /// <param name="progress">Progress of the extraction.</param>
    /// <param name="cancellationToken">Stops the extraction.</param>
    /// <param name="stage">The progress stage name.</param>
    /// <exception cref="ArgumentException">A photo is unlabelled, or a class has fewer than two usable photos.</exception>
    public static (ExtractedFeatures Extracted, PetLabel[] Labels) Extract(
        FeatureExtractor extractor, IReadOnlyList<ImageEntry> photos, string purpose, IProgress<CatsDogsProgress>? progress, CancellationToken cancellationToken, string stage = "features")
    {
        LabelChecks.RequireLabels(photos, purpose);
        var extracted = extractor.Extract(photos, progress, cancellationToken, stage);
        var capitalised = char.ToUpperInvariant(purpose[0]) + purpose[1..];
        return (extracted, LabelChecks.UsableLabels(extracted.Images, photos.Count, capitalised));
    }

    /// <summary>The width of each backbone's block of the concatenated features.</summary>
    public static int[] Blocks(FeatureExtractor extractor) => extractor.Backbones.Select(b => b.Spec.FeatureDimension).ToArray();
}
