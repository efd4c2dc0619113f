using CatsDogs.ML.Features;
using Xunit;

namespace CatsDogs.ML.Tests.Features;

[Trait("Category", Category.Unit)]
public class FeatureCacheTests
{
    private static readonly float[] Features = Enumerable.Range(0, 512).Select(i => i * 0.25f).ToArray();

    [Fact]
    public void WriteThenRead_RoundTrips()
    {
        using var dir = TestEnvironment.NewTempDirectory();
        var cache = new FeatureCache(dir.Path);
        var key = FeatureCacheKey.Of("backbone-fp", "image-sha", (500, 375));

        cache.Write(key, Features);
        var read = new float[512];

        Assert.True(cache.TryRead(key, read));
        Assert.Equal(Features, read);
    }

    [Fact]
    public void Key_DependsOnBackboneViewImageAndDecodedSize()
    {
        var key = FeatureCacheKey.Of("fp", "img", (500, 375));
        Assert.Equal(key, FeatureCacheKey.Of("fp", "img", (500, 375)));
        Assert.NotEqual(key, FeatureCacheKey.Of("fp2", "img", (500, 375)));
        Assert.NotEqual(key, FeatureCacheKey.Of("fp", "img2", (500, 375)));
        Assert.NotEqual(key, FeatureCacheKey.Of("fp", "img", (250, 188))); // the same JPEG decoded at half scale
        Assert.Equal("view=native+mirror@288", Assert.Single(FeatureCacheKeyLines(), l => l.StartsWith("view=", StringComparison.Ordinal)));
    }

    [Fact]
    public void FeatureCache_OtherBackbone_Misses()
    {
        using var dir = TestEnvironment.NewTempDirectory();
        var cache = new FeatureCache(dir.Path);
        cache.Write(FeatureCacheKey.Of("fp", "img", (500, 375)), Features);

        Assert.False(cache.TryRead(FeatureCacheKey.Of("other-model", "img", (500, 375)), new float[512]));
        Assert.False(cache.TryRead(FeatureCacheKey.Of("fp", "img", (500, 375)), new float[256])); // other dimension
    }

    [Theory]
    [InlineData("truncate")]
    [InlineData("flip-bit")]
    [InlineData("garbage")]
    [InlineData("empty")]
    [InlineData("foreign-entry")]
    [InlineData("interrupted-write")]
    public void FeatureCache_CorruptEntry_IsAMiss_AndRewritable(string damage)
    {
        using var dir = TestEnvironment.NewTempDirectory();
        var cache = new FeatureCache(dir.Path);
        var key = FeatureCacheKey.Of("fp", "img", (500, 375));
        cache.Write(key, Features);
        var path = cache.PathOf(key);
        var bytes = File.ReadAllBytes(path);
        switch (damage)
        {
            case "truncate":
                File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
                break;
            case "flip-bit":
                bytes[100] ^= 0x10;
                File.WriteAllBytes(path, bytes);
                break;
            case "garbage":
                File.WriteAllBytes(path, Enumerable.Range(0, bytes.Length).Select(i => (byte)(i * 31)).ToArray());
                break;
            case "empty":
                File.WriteAllBytes(path, []);
                break;
            case "interrupted-write":
                // The process dies between writing the temporary file and moving it into place: the new values never
                // become the entry, and the previous (damaged) entry is left as it was, still refused.
                File.WriteAllBytes(path, bytes[..(bytes.Length / 3)]);
                cache.BeforeMove = temp =>
                {
                    Assert.True(File.Exists(temp), "the entry is written to a temporary file first");
                    throw new IOException("simulated crash before the move");
                };
                cache.Write(key, Features.Select(f => f + 1).ToArray());
                cache.BeforeMove = null;
                Assert.Equal(1, cache.WriteFailures);
                Assert.Equal(bytes[..(bytes.Length / 3)], File.ReadAllBytes(path));
                Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(path)!, "*.tmp"));
                break;
            case "foreign-entry":
                // A valid entry of another key copied over this one (e.g. a stale file after a model change).
                var other = FeatureCacheKey.Of("fp", "other-img", (500, 375));
                cache.Write(other, Features);
                File.Copy(cache.PathOf(other), path, overwrite: true);
                break;
        }

        Assert.False(cache.TryRead(key, new float[512]));
        cache.Write(key, Features);
        Assert.True(cache.TryRead(key, new float[512]));
    }

    // The identity lines of a resized backbone's mirrored view, from a synthetic graph.
    private static string[] FeatureCacheKeyLines()
    {
        using var dir = TestEnvironment.NewTempDirectory();
        var spec = TinyModel.Spec with { ScalableInput = true };
        Backbones.SyntheticBackbone.Write(dir.File(spec.FileName), spec);
        using var set = ML.Backbones.BackboneSet.Open([spec], dir.Path, inputSizes: [288]);
        var view = ML.Imaging.ImageView.Parse("native+mirror@288");
        var identity = FeatureCacheKey.Identity(set.At(0, 288), view, ML.Backbones.BackboneOutput.Pooled);
        Assert.Contains("size=288x288", identity, StringComparison.Ordinal);
        return identity.Split('\n');
    }
}
