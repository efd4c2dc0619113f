using System.Buffers.Binary;
using System.Diagnostics;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Xunit;
using Xunit.Abstractions;

namespace CatsDogs.ML.Tests.Persistence;

/// <summary>
/// Saved models as an attacker or a broken disk makes them: zip bombs, lying headers, nulls, huge numbers, paths,
/// NaNs, edits with and without a recomputed digest, signatures. Every outcome is a loaded model that predicts
/// finite probabilities or a <see cref="ModelBundleException"/> that names the file.
/// </summary>
[Collection("tiny model")]
[Trait("Category", Category.Unit)]
public class HostileBundleTests(TinyModel tiny, ITestOutputHelper output)
{
    [Fact]
    public void Load_Missing_NamesFile()
    {
        var e = Assert.Throws<ModelBundleException>(() => CatsDogsClassifier.Load("/no/such/model.zip"));
        Assert.Contains("/no/such/model.zip", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void EditedManifest_WithoutItsDigest_IsRefusedAsModified()
    {
        using var copy = Copy(out var path);
        BundleFile.EditManifest(path, m => m["views"] = new JsonArray("native"), rehash: false);
        Assert.Contains("does not match its digest", Refused(path), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("manifest.json", 300)]
    [InlineData("head.zip", 300)]
    public void ZipBomb_IsStoppedAtTheEntrysCap_WithoutInflatingIt(string entry, int megabytes)
    {
        using var copy = Copy(out var path);
        ReplaceWithZeros(path, entry, megabytes);
        var before = GC.GetTotalAllocatedBytes(precise: true);
        Assert.Contains("claims", Refused(path), StringComparison.Ordinal);
        Assert.True(GC.GetTotalAllocatedBytes(precise: true) - before < 64L << 20, "the entry was inflated");

        // The same bomb behind a central directory that claims 100 bytes: .NET's entry stream ends at the declared size
        // (which is capped above), so only 100 bytes are inflated, and they do not match the recorded hash.
        LieAboutSize(path, entry, 100);
        before = GC.GetTotalAllocatedBytes(precise: true);
        var message = Refused(path);
        output.WriteLine($"{entry} lying about its size: {message}");
        Assert.Contains("modified after saving", message, StringComparison.Ordinal);
        Assert.True(GC.GetTotalAllocatedBytes(precise: true) - before < 64L << 20, "the entry was inflated beyond its declared size");
    }

    [Theory]
    [InlineData("nulls in a backbone", "backbones", "[null]")]
    [InlineData("a spec of nulls", "backbones", "[{\"spec\":{\"name\":null,\"fileName\":null,\"inputName\":null,\"preprocessing\":null,\"pooledOutputName\":null,\"featureDimension\":16},\"modelSha256\":null}]")]
    [InlineData("null views", "views", "null")]
    [InlineData("no format", "format", "null")]
    [InlineData("overflowing dimension", "featureDimension", "2147483647")]
    [InlineData("a view that is not one", "views", "[\"zoom\"]")]
    public void NonsenseInTheManifest_WithItsDigestRecomputed_IsACleanError(string what, string field, string json)
    {
        using var copy = Copy(out var path);
        BundleFile.EditManifest(path, m => m[field] = JsonNode.Parse(json), rehash: true);
        output.WriteLine($"{what}: {Refused(path)}");
    }

    [Fact]
    public void HugeDimensionsThatAddUp_AreRefusedByRange_NotOverflow()
    {
        using var copy = Copy(out var path);
        BundleFile.EditManifest(path, m =>
        {
            var backbone = m["backbones"]![0]!;
            backbone["spec"]!["featureDimension"] = int.MaxValue;
            m["backbones"] = new JsonArray(backbone.DeepClone(), backbone.DeepClone());
            m["featureDimension"] = -2;
        }, rehash: true);
        Assert.Contains("outside 1…65536", Refused(path), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/etc/passwd")]
    [InlineData("/proc/self/environ")]
    [InlineData("../../etc/passwd")]
    public void BackbonePathInTheManifest_IsRefused_AndNothingIsRead(string fileName)
    {
        using var copy = Copy(out var path);
        BundleFile.EditManifest(path, m => m["backbones"]![0]!["spec"]!["fileName"] = fileName, rehash: true);
        var message = Refused(path);
        Assert.Contains("bare file name", message, StringComparison.Ordinal);
        Assert.DoesNotContain("SHA-256", message, StringComparison.Ordinal);
    }

    [Fact]
    public void NaNInTheScaler_WithItsHashRecomputed_IsRefused()
    {
        using var copy = Copy(out var path);
        var scaler = BundleFile.ReadEntry(path, "scaler.bin");
        BinaryPrimitives.WriteSingleLittleEndian(scaler.AsSpan(8), float.NaN);
        BundleFile.ReplaceEntry(path, "scaler.bin", scaler);
        BundleFile.EditManifest(path, m => m["scalerSha256"] = Convert.ToHexStringLower(SHA256.HashData(scaler)), rehash: true);
        Assert.Contains("not a finite number", Refused(path), StringComparison.Ordinal);
    }

    [Fact]
    public void SigningKey_LoadsOnlyModelsSignedWithIt()
    {
        var key = RandomNumberGenerator.GetBytes(32);
        using var copy = TestEnvironment.NewTempDirectory();
        var signed = copy.File("signed.zip");
        tiny.Classifier.Save(signed, key);
        using (var loaded = CatsDogsClassifier.Load(signed, new ModelLoadOptions { ModelsDirectory = tiny.ModelsDirectory, UseCache = false, SigningKey = key }))
        {
            Assert.Equal(["tiny"], loaded.Backbones.Select(b => b.Name));
        }

        var options = new ModelLoadOptions { ModelsDirectory = tiny.ModelsDirectory, UseCache = false, SigningKey = key };
        Assert.Contains("not signed", Assert.Throws<ModelBundleException>(() => CatsDogsClassifier.Load(tiny.ModelPath, options)).Message, StringComparison.Ordinal);
        Assert.Contains("not signed with this key", Assert.Throws<ModelBundleException>(() => CatsDogsClassifier.Load(signed, options with { SigningKey = RandomNumberGenerator.GetBytes(32) })).Message, StringComparison.Ordinal);

        // Someone who edits the manifest and recomputes its digest cannot recompute the signature.
        BundleFile.EditManifest(signed, m => m["views"] = new JsonArray("squash"), rehash: true);
        Assert.Throws<ModelBundleException>(() => CatsDogsClassifier.Load(signed, options));
    }

    [Fact]
    public void Fuzzer_ThousandsOfMutatedBundles_LoadAndPredictFinitely_OrFailCleanly()
    {
        var original = File.ReadAllBytes(tiny.ModelPath);
        var photo = File.ReadAllBytes(Path.Combine(tiny.PhotosDirectory, "dog.1.png"));
        var random = new Random(20261202);
        var outcomes = new Dictionary<string, int>();
        var clock = Stopwatch.StartNew();
        using var dir = TestEnvironment.NewTempDirectory();
        const int Cases = 1200;
        for (var i = 0; i < Cases; i++)
        {
            var path = dir.File($"fuzz{i % 4}.zip");
            File.WriteAllBytes(path, original);
            var how = Mutate(path, random);
            string outcome;
            try
            {
                using var model = CatsDogsClassifier.Load(path, new ModelLoadOptions { ModelsDirectory = tiny.ModelsDirectory, UseCache = false, MaxDegreeOfParallelism = 1 });
                var p = model.Predict(photo).DogProbability;
                Assert.True(float.IsFinite(p) && p is >= 0 and <= 1, $"case {i} ({how}) predicted {p}");
                outcome = "loaded";
            }
            catch (CatsDogsException e)
            {
                Assert.DoesNotContain("Object reference", e.Message, StringComparison.Ordinal);
                outcome = e.GetType().Name;
            }
            catch (Exception e)
            {
                throw new InvalidOperationException($"case {i} ({how}) escaped with {e.GetType().Name}: {e.Message}", e);
            }

            outcomes[outcome] = outcomes.GetValueOrDefault(outcome) + 1;
        }

        output.WriteLine($"{Cases} mutated bundles in {clock.Elapsed.TotalSeconds:F1} s: {string.Join(", ", outcomes.OrderByDescending(o => o.Value).Select(o => $"{o.Key} {o.Value}"))}");
        Assert.True(outcomes.GetValueOrDefault("loaded") > 0, "no mutation left a loadable model: the fuzzer would not notice a crash after loading");
        Assert.True(outcomes.Count > 1);
    }

    // One seeded mutation: edit the manifest's JSON (with or without the digest), or damage an entry's bytes.
    private static string Mutate(string path, Random random)
    {
        switch (random.Next(6))
        {
            case 0:
            case 1:
            case 2:
            {
                var rehash = random.Next(4) != 0;
                var description = "";
                BundleFile.EditManifest(path, m => description = MutateJson(m, random), rehash);
                return $"manifest {description}{(rehash ? "" : " (digest not recomputed)")}";
            }

            case 3:
            {
                var name = new[] { "head.zip", "scaler.bin", "manifest.sha256" }[random.Next(3)];
                var bytes = BundleFile.ReadEntry(path, name);
                if (bytes.Length > 0)
                {
                    bytes[random.Next(bytes.Length)] ^= (byte)(1 << random.Next(8));
                }

                BundleFile.ReplaceEntry(path, name, bytes);
                return $"bit flip in {name}";
            }

            case 4:
            {
                var bytes = File.ReadAllBytes(path);
                File.WriteAllBytes(path, bytes[..random.Next(bytes.Length)]);
                return "truncated";
            }

            default:
            {
                var bytes = File.ReadAllBytes(path);
                for (var k = 0; k < 1 + random.Next(8); k++)
                {
                    bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
                }

                File.WriteAllBytes(path, bytes);
                return "random bytes overwritten";
            }
        }
    }

    private static readonly JsonNode?[] Replacements =
    [
        null, 0, -1, 1, int.MaxValue, long.MaxValue, -1e308, 1e308, 0.5, "", "x", "../../etc/passwd", "/dev/zero", true,
        new JsonArray(), new JsonObject(), "NaN", "Infinity", "native", "crop0.5+mirror", "Nhwc", "Bgr", "Torch",
    ];

    // Replaces, deletes or duplicates one value anywhere in the manifest.
    private static string MutateJson(JsonNode manifest, Random random)
    {
        var values = new List<(JsonNode Parent, string? Key, int Index, string Path)>();
        void Walk(JsonNode? node, string at)
        {
            switch (node)
            {
                case JsonObject o:
                    foreach (var (key, child) in o.ToArray())
                    {
                        values.Add((o, key, -1, $"{at}.{key}"));
                        Walk(child, $"{at}.{key}");
                    }

                    break;
                case JsonArray a:
                    for (var i = 0; i < a.Count; i++)
                    {
                        values.Add((a, null, i, $"{at}[{i}]"));
                        Walk(a[i], $"{at}[{i}]");
                    }

                    break;
            }
        }

        Walk(manifest, "$");
        var (parent, name, index, path) = values[random.Next(values.Count)];
        var replacement = Replacements[random.Next(Replacements.Length)]?.DeepClone();
        if (parent is JsonObject o && name is not null)
        {
            if (random.Next(5) == 0)
            {
                o.Remove(name);
                return $"{path} removed";
            }

            o[name] = replacement;
        }
        else if (parent is JsonArray a)
        {
            a[index] = replacement;
        }

        return $"{path} = {replacement?.ToJsonString() ?? "null"}";
    }

    private TempDirectory Copy(out string path)
    {
        var dir = TestEnvironment.NewTempDirectory();
        path = dir.File("model.zip");
        File.Copy(tiny.ModelPath, path);
        return dir;
    }

    private string Refused(string path)
    {
        var e = Assert.Throws<ModelBundleException>(() => CatsDogsClassifier.Load(path, tiny.ModelsDirectory, useCache: false));
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
        return e.Message;
    }

    // Replaces an entry with megabytes of zeros, deflated (a few hundred kilobytes on disk).
    private static void ReplaceWithZeros(string path, string name, int megabytes)
    {
        using var zip = ZipFile.Open(path, ZipArchiveMode.Update);
        zip.GetEntry(name)?.Delete();
        using var stream = zip.CreateEntry(name, CompressionLevel.Fastest).Open();
        var zeros = new byte[1 << 20];
        for (var i = 0; i < megabytes; i++)
        {
            stream.Write(zeros);
        }
    }

    // Rewrites the uncompressed size that the central directory records for an entry.
    private static void LieAboutSize(string path, string name, uint size)
    {
        var bytes = File.ReadAllBytes(path);
        var signature = new byte[] { 0x50, 0x4B, 0x01, 0x02 };
        for (var at = bytes.AsSpan().IndexOf(signature); at >= 0;)
        {
            var nameLength = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(at + 28));
            if (Encoding.UTF8.GetString(bytes, at + 46, nameLength) == name)
            {
                BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(at + 24), size);
                File.WriteAllBytes(path, bytes);
                return;
            }

            var next = bytes.AsSpan(at + 4).IndexOf(signature);
            at = next < 0 ? -1 : at + 4 + next;
        }

        throw new InvalidOperationException($"No central directory entry for {name}.");
    }
}
