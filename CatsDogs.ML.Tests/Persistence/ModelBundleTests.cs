using System.IO.Compression;
using System.Text.Json.Nodes;
using CatsDogs.ML.Features;
using CatsDogs.ML.Tests.Harness;
using Xunit;

namespace CatsDogs.ML.Tests.Persistence;

[Collection("trained resnet18")]
public class ModelBundleTests(HelloWorldFixture trained)
{
    [HarnessFact]
    [Trait("Category", Category.Harness)]
    public void SaveThenLoad_PredictsExactlyTheSame()
    {
        using var dir = TestEnvironment.NewTempDirectory();
        var path = dir.File("model.zip");
        trained.Classifier!.Save(path);

        using var loaded = CatsDogsClassifier.Load(path);
        var sample = trained.Test!.Take(100).ToArray();
        var before = trained.Classifier.PredictMany(sample).Scored.Select(p => p.DogProbability);
        var after = loaded.PredictMany(sample).Scored.Select(p => p.DogProbability);

        Assert.Equal(before, after);
        Assert.Equal(["resnet18"], loaded.Backbones.Select(b => b.Name));
        Assert.Equal(trained.Classifier.Training!.Best, loaded.Training!.Best);
    }

    [HarnessFact]
    [Trait("Category", Category.Harness)]
    public void Load_Truncated_ThrowsModelBundleException()
    {
        var path = SavedModel(out var dir);
        using (dir)
        {
            var bytes = File.ReadAllBytes(path);
            File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
            var e = Assert.Throws<ModelBundleException>(() => CatsDogsClassifier.Load(path));
            Assert.Contains(path, e.Message, StringComparison.Ordinal);
        }
    }

    [HarnessFact]
    [Trait("Category", Category.Harness)]
    public void Load_TamperedHead_ThrowsModelBundleException()
    {
        var path = SavedModel(out var dir);
        using (dir)
        {
            using (var zip = ZipFile.Open(path, ZipArchiveMode.Update))
            {
                var entry = zip.GetEntry("head.zip")!;
                using var stream = entry.Open();
                stream.Seek(100, SeekOrigin.Begin);
                stream.WriteByte(0x42);
            }

            var e = Assert.Throws<ModelBundleException>(() => CatsDogsClassifier.Load(path));
            Assert.Contains("modified", e.Message, StringComparison.Ordinal);
        }
    }

    [HarnessFact]
    [Trait("Category", Category.Harness)]
    public void Load_NewerFormat_AsksToUpgrade()
    {
        var path = SavedModel(out var dir);
        using (dir)
        {
            // A later format that says this version cannot read it (ML.NET's VersionInfo: readable from 99 on).
            EditManifest(path, m =>
            {
                m["formatVersion"] = 99;
                m["readableFromVersion"] = 99;
            });
            var e = Assert.Throws<ModelBundleException>(() => CatsDogsClassifier.Load(path));
            Assert.Contains("Upgrade CatsDogs.ML", e.Message, StringComparison.Ordinal);

            EditManifest(path, m => m["formatVersion"] = 1);
            e = Assert.Throws<ModelBundleException>(() => CatsDogsClassifier.Load(path));
            Assert.Contains("Train it again with 'catsdogs train", e.Message, StringComparison.Ordinal);
        }
    }

    [HarnessFact]
    [Trait("Category", Category.Harness)]
    public void Load_BackboneFileDiffersFromTraining_Refuses()
    {
        // A float32 model: an int8 one's calibration names the file too, so the edit below would be refused as inconsistent first.
        var path = SavedModel(out var dir, trained.Model(fourFused: false, Precision.Fp32));
        using (dir)
        {
            EditManifest(path, m => m["backbones"]![0]!["modelSha256"] = new string('0', 64));
            var e = Assert.Throws<BackboneMismatchException>(() => CatsDogsClassifier.Load(path));
            Assert.Contains("ResNet18.onnx", e.Message, StringComparison.Ordinal);
            Assert.Contains(new string('0', 64), e.Message, StringComparison.Ordinal);
        }
    }

    private string SavedModel(out TempDirectory dir, CatsDogsClassifier? model = null)
    {
        dir = TestEnvironment.NewTempDirectory();
        var path = dir.File("model.zip");
        (model ?? trained.Classifier!).Save(path);
        return path;
    }

    // Edits the manifest as someone who knows the format would: the manifest's digest is recomputed, so what is
    // tested is the check behind it (versions, hashes of the backbone files), not the digest.
    private static void EditManifest(string path, Action<JsonNode> edit) => BundleFile.EditManifest(path, edit, rehash: true);
}
