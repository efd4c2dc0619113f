using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using CatsDogs.ML.Backbones;
using CatsDogs.ML.Imaging;

namespace CatsDogs.ML.Features;

/// <summary>
/// The one definition of what a cached feature vector depends on: the backbone's files and contract, its
/// preprocessing, the view, the output read, the photo's bytes and the size they are decoded at (a JPEG may be decoded
/// at 1/2, 1/4 or 1/8 scale; the size comes from its header, so views and models that decode a photo alike share
/// entries). Formatted culture-invariantly and hashed; any change gives another key, so a stale entry is never read.
/// </summary>
internal static class FeatureCacheKey
{
    /// <summary>Version of the key's recipe; bump it when the recipe changes.</summary>
    public const int Version = 2;

    /// <summary>
    /// The key of a precomputed identity (see <see cref="Identity"/>), the photo whose bytes hash to
    /// <paramref name="imageSha256"/>, and the size they decode at.
    /// </summary>
    public static byte[] Of(string identity, string imageSha256, (int Width, int Height) decoded) =>
        SHA256.HashData(Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture,
            $"catsdogs-features/v{Version}\n{identity}\ndecoded={decoded.Width}x{decoded.Height}\n{imageSha256}")));

    /// <summary>Everything but the photo: computed once per extractor and (backbone, view).</summary>
    public static string Identity(Backbone backbone, ImageView view, BackboneOutput output)
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
            "output=" + output)
            // Float32 keys are the same as before precisions existed; an int8 one names its calibration.
            + (backbone.Calibration is { } calibration
                ? "\nprecision=int8\ncalibration=" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(calibration.ToJson())))
                : "");
    }
}
