using CatsDogs.ML.Data;

namespace CatsDogs.ML.Features;

/// <summary>Features of the photos that could be used, in input order, and the ones that could not, with reasons.</summary>
/// <param name="Images">The photos whose features were computed, in input order.</param>
/// <param name="Features">Their feature vectors, one per entry of <paramref name="Images"/>.</param>
/// <param name="Skipped">The photos that could not be read or decoded, and why.</param>
public sealed record ExtractedFeatures(IReadOnlyList<ImageEntry> Images, IReadOnlyList<float[]> Features, IReadOnlyList<SkippedImage> Skipped);

/// <summary>
/// The output of every (backbone, view) for one photo, with what their cache keys are made of besides the backbone and
/// view: what a feature worker sends back, and what <see cref="FeaturePipeline.Store"/> writes into a cache.
/// </summary>
/// <param name="ImageSha256">The SHA-256 of the photo's bytes, lower-case hex.</param>
/// <param name="Decoded">The size the photo decodes at.</param>
/// <param name="Identity">The <see cref="FeaturePipeline.Identity"/> of the pipeline that computed them.</param>
/// <param name="Values">The outputs, <c>[backbone][view]</c>, in feature and view order.</param>
public sealed record ViewOutputs(string ImageSha256, (int Width, int Height) Decoded, string Identity, float[][][] Values);
