using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using CatsDogs.ML.Backbones;
using CatsDogs.ML.Imaging;

namespace CatsDogs.ML.Features;

/// <summary>
/// The one definition of what a cached feature vector depends on: the backbone's files and contract, its
/// preprocessing, the view, the output read, the size photos are decoded at, and the photo's bytes. Formatted
/// culture-invariantly and hashed; any change gives another key, so a stale entry is never read.
/// </summary>
internal static class FeatureCacheKey
{
    /// <summary>Version of the key's recipe; bump it when the recipe changes.</summary>
    public const int Version = 2;

    /// <summary>The key of one (backbone, view, output) of the photo whose bytes hash to <paramref name="imageSha256"/>.</summary>
    public static byte[] Of(Backbone backbone, ImageView view, BackboneOutput output, int decodeSize, string imageSha256) =>
        Of(Identity(backbone, view, output, decodeSize), imageSha256);

    /// <summary>The key of a precomputed identity (see <see cref="Identity"/>) and a photo hash.</summary>
    public static byte[] Of(string identity, string imageSha256) =>
        SHA256.HashData(Encoding.UTF8.GetBytes($"catsdogs-features/v{Version}\n{identity}\n{imageSha256}"));

    /// <summary>Everything but the photo: computed once per extractor and (backbone, view).</summary>
    public static string Identity(Backbone backbone, ImageView view, BackboneOutput output, int decodeSize)
    {
        var spec = backbone.Spec;
        return string.Join(
            '\n',
            "model=" + backbone.ModelSha256,
            "mean=" + (backbone.MeanImageSha256 ?? ""),
            "input=" + spec.InputName,
            "pooled=" + spec.PooledOutputName,
            "dim=" + spec.FeatureDimension.ToString(CultureInfo.InvariantCulture),
            spec.Preprocessing.Signature,
            "view=" + view,
            "output=" + output,
            "decode=" + decodeSize.ToString(CultureInfo.InvariantCulture));
    }
}
