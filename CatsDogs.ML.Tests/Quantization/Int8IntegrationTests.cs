using CatsDogs.ML.Backbones;
using CatsDogs.ML.Data;
using CatsDogs.ML.Features;
using CatsDogs.ML.Imaging;
using CatsDogs.ML.Onnx.Proto;
using CatsDogs.ML.Onnx.Quantization;
using CatsDogs.ML.Persistence;
using CatsDogs.ML.Tests.Export;
using Microsoft.ML.OnnxRuntime;
using Xunit;
using Xunit.Abstractions;

namespace CatsDogs.ML.Tests.Quantization;

/// <summary>Int8 models everywhere a model runs (issue 23 item 2), on the synthetic CNN: train, predict, save, load, explain, cache, export, devices.</summary>
[Collection("int8 model")]
[Trait("Category", Category.Unit)]
public class Int8IntegrationTests(Int8Model model, ITestOutputHelper output)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(120);

    [Fact]
    public void TrainInt8_RunsTheQuantizedGraph_SaveLoad_GivesTheSameDogProbability_AndRebuildsTheSameGraph()
    {
        var photos = model.Photos;
        var fp32 = photos.Select(p => model.Fp32.Predict(p).DogProbability).ToArray();
        var int8 = photos.Select(p => model.Int8.Predict(p).DogProbability).ToArray();
        var deltas = fp32.Zip(int8, (a, b) => Math.Abs(a - b)).ToArray();
        output.WriteLine($"|ΔP| int8 vs fp32 over {photos.Length} photos: mean {deltas.Average():G3}, max {deltas.Max():G3}");
        Assert.Equal(Precision.Int8, model.Int8.Precision);
        Assert.Contains(deltas, d => d > 0); // the int8 graph ran, not the float file

        using var loaded = CatsDogsClassifier.Load(model.Int8Path, model.ModelsDirectory, useCache: false);
        Assert.Equal(Precision.Int8, loaded.Precision);
        Assert.Equal(int8, photos.Select(p => loaded.Predict(p).DogProbability));
        Assert.Equal("int8", CatsDogsClassifier.Inspect(model.Int8Path).Precision);

        var trained = Assert.Single(model.Int8.Calibrations!);
        var saved = Assert.Single(loaded.Calibrations!);
        Assert.Equal(trained.ToJson(), saved.ToJson());
        Assert.Equal(10, saved.PhotoSha256.Count);
        var file = File.ReadAllBytes(Path.Combine(model.ModelsDirectory, Int8Model.Spec.FileName));
        Assert.Equal(StaticQuantizer.Quantize(file, trained), StaticQuantizer.Quantize(file, saved));
    }

    [Fact]
    public void Fp32Model_SavesNoCalibration_AndLoadsAsFp32()
    {
        using var dir = TestEnvironment.NewTempDirectory();
        model.Fp32.Save(dir.File("fp32.zip"));
        var bundle = ModelBundle.Load(dir.File("fp32.zip"));
        Assert.Equal("fp32", bundle.Precision);
        Assert.Null(bundle.Calibrations);
        Assert.Null(model.Fp32.Calibrations);
    }

    [Fact]
    public void Int8Bundle_WithoutItsCalibration_OrWithOneMadeOnAnotherFile_OrAnUnknownPrecision_OrNoFeatureMap_IsRefusedByName()
    {
        using var dir = TestEnvironment.NewTempDirectory();
        var cases = new (string Name, Action<System.Text.Json.Nodes.JsonNode> Edit, string Message)[]
        {
            ("none.zip", m => m["backbones"]![0]!.AsObject().Remove("calibration"), "it is int8 but a backbone has no calibration"),
            ("other.zip", m => m["backbones"]![0]!["calibration"] = m["backbones"]![0]!["calibration"]!.GetValue<string>().Replace(model.Int8.Calibrations![0].ModelSha256, new string('a', 64), StringComparison.Ordinal),
                "an int8 calibration was made on file " + new string('a', 64)),
            ("int4.zip", m => m["precision"] = "int4", "precision 'int4'"),
            ("auto.zip", m => m["precision"] = "auto", "precision 'auto'"), // a choice training resolves, never a saved precision
            ("fp32.zip", m => m["precision"] = "fp32", "it is fp32 but lists int8 calibrations"),
            ("unmapped.zip", m => m["backbones"]![0]!["spec"]!.AsObject().Remove("featureMapName"), "it is int8 but backbone 'convnet' names no feature map"),
        };
        foreach (var (name, edit, message) in cases)
        {
            var path = dir.File(name);
            File.Copy(model.Int8Path, path);
            BundleFile.EditManifest(path, edit, rehash: true);
            var e = Assert.Throws<ModelBundleException>(() => CatsDogsClassifier.Load(path, model.ModelsDirectory, useCache: false));
            Assert.Contains(message, e.Message, StringComparison.Ordinal);
            Assert.Contains(path, e.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void CalibrationDraw_IsStratified_AndDeterministicBySeed()
    {
        var photos = ImageDataset.FromFolder(model.PhotosDirectory).ToArray();
        var first = BackboneCalibration.Draw(photos, 10, seed: 42, decodeSize: 32, PhotoFile.DefaultMaxBytes, default);
        var again = BackboneCalibration.Draw(photos.Reverse().ToArray(), 10, seed: 42, decodeSize: 32, PhotoFile.DefaultMaxBytes, default);
        var other = BackboneCalibration.Draw(photos, 10, seed: 7, decodeSize: 32, PhotoFile.DefaultMaxBytes, default);
        Assert.Equal(5, first.Count(p => Path.GetFileName(p.Path).StartsWith("cat.", StringComparison.Ordinal)));
        Assert.Equal(5, first.Count(p => Path.GetFileName(p.Path).StartsWith("dog.", StringComparison.Ordinal)));
        Assert.Equal(first, again);
        Assert.NotEqual(first.Select(p => p.Path), other.Select(p => p.Path));
    }

    [Fact]
    public void CacheIdentity_DiffersByPrecisionAndCalibration_Fp32KeepsItsKey()
    {
        var fp32Options = model.Fp32Options.Features;
        var calibration = model.Int8.Calibrations![0];
        var recalibrated = calibration with { Tensors = calibration.Tensors.Select(t => t with { Scale = t.Scale * 2 }).ToArray() };
        using var fp32 = FeaturePipeline.Open(fp32Options);
        using var int8 = FeaturePipeline.Open(model.Int8Options.Features with { Calibrations = [calibration] });
        using var other = FeaturePipeline.Open(model.Int8Options.Features with { Calibrations = [recalibrated] });
        Assert.NotEqual(fp32.Identity, int8.Identity);
        Assert.NotEqual(int8.Identity, other.Identity);

        using var backbone = Backbone.Open(Int8Model.Spec, model.ModelsDirectory);
        using var quantized = Backbone.Open(Int8Model.Spec, model.ModelsDirectory, calibration: calibration);
        var plain = FeatureCacheKey.Identity(backbone, ImageView.Native, BackboneOutput.Pooled);
        Assert.DoesNotContain("precision", plain, StringComparison.Ordinal);
        Assert.Equal(plain + "\nprecision=int8\ncalibration=" + StaticQuantizer.Sha256(System.Text.Encoding.UTF8.GetBytes(calibration.ToJson())),
            FeatureCacheKey.Identity(quantized, ImageView.Native, BackboneOutput.Pooled));

        // Both precisions' features are computed, never read from each other's cache entries.
        var photo = File.ReadAllBytes(model.Photos[0]);
        Assert.NotEqual(fp32.Extract(photo), int8.Extract(photo));
    }

    [Fact]
    public void SharedCache_Int8ThenFp32_EachScoresAsWithoutACache()
    {
        using var cache = TestEnvironment.NewTempDirectory();
        var photos = model.Photos.Take(6).ToArray();
        var data = ImageDataset.FromFolder(model.PhotosDirectory);
        using var int8 = new CatsDogsTrainer(model.Int8Options with { UseCache = true, CacheDirectory = cache.Path }).Train(data);
        using var fp32 = new CatsDogsTrainer(model.Fp32Options with { UseCache = true, CacheDirectory = cache.Path }).Train(data);
        Assert.Equal(photos.Select(p => model.Int8.Predict(p).DogProbability), photos.Select(p => int8.Predict(p).DogProbability));
        Assert.Equal(photos.Select(p => model.Fp32.Predict(p).DogProbability), photos.Select(p => fp32.Predict(p).DogProbability));
    }

    [Fact]
    public void Explain_OnAnInt8Model_RunsTheQuantizedGraph()
    {
        using var explainer = model.Int8.CreateExplainer();
        using var fp32Explainer = model.Fp32.CreateExplainer();
        foreach (var photo in model.Photos.Take(4))
        {
            var explained = explainer.Explain(photo);
            Assert.Equal(model.Int8.Predict(photo).DogProbability, explained.DogProbability, 1e-6f);
            Assert.Equal(8 * 8, explained.Heatmaps[0].Values.Count);
        }

        // The fp32 model's explanation of the same photo differs: the int8 explainer did not open the float file.
        Assert.NotEqual(model.Photos.Select(p => fp32Explainer.Explain(p).DogProbability), model.Photos.Select(p => explainer.Explain(p).DogProbability));
    }

    [Fact]
    public void ExportInt8_IsAQdqGraph_EqualToTheLibraryWithin1e4_OnThePreResizedContract_OptimisedOrNot()
    {
        using var dir = TestEnvironment.NewTempDirectory();
        var result = model.Int8.ExportOnnx(dir.File("int8.onnx"));
        var fp32Result = model.Fp32.ExportOnnx(dir.File("fp32.onnx"));
        var graph = ModelProto.Parser.ParseFrom(File.ReadAllBytes(result.Path)).Graph;
        Assert.Equal(4, graph.Node.Count(n => n.OpType == "Conv" && n.Input.Skip(1).Any(i => graph.Node.Any(d => d.OpType == "DequantizeLinear" && d.Output.Contains(i)))));
        Assert.DoesNotContain(ModelProto.Parser.ParseFrom(File.ReadAllBytes(fp32Result.Path)).Graph.Node, n => n.OpType == "QuantizeLinear");

        var photos = model.Photos;
        var expected = photos.Select(p => model.Int8.Predict(p).DogProbability).ToArray();
        var input = photos.SelectMany(p => OnnxExportTests.ResizedRgb(p, Int8Model.Spec.Preprocessing)).ToArray();
        var (p, _) = OnnxExportTests.Run(result.Path, input, [photos.Length, 32, 32, 3], GraphOptimizationLevel.ORT_ENABLE_ALL);
        output.WriteLine($"largest |ΔP| export vs library: {expected.Zip(p, (a, b) => Math.Abs(a - b)).Max():G3}; sizes int8 {result.Bytes:N0} B, fp32 {fp32Result.Bytes:N0} B");
        Assert.Equal(expected, p, new Tolerance(1e-4));

        // Unoptimised, ONNX Runtime runs each QDQ pair as float arithmetic, rounding where the fused kernels do: also within 1e-4
        // (6e-8 measured), so a consumer's optimisation level does not matter.
        var (unfused, _) = OnnxExportTests.Run(result.Path, input, [photos.Length, 32, 32, 3], GraphOptimizationLevel.ORT_DISABLE_ALL);
        output.WriteLine($"largest |ΔP| unoptimised export vs library: {expected.Zip(unfused, (a, b) => Math.Abs(a - b)).Max():G3}");
        Assert.Equal(expected, unfused, new Tolerance(1e-4));
    }

    [Fact]
    public void Int8OnCuda_IsRefusedInOneLine_NamingTheCpu()
    {
        var e = Assert.Throws<ArgumentException>(() => (model.Int8Options.Features with { Device = "cuda" }).Validate());
        Assert.DoesNotContain('\n', e.Message);
        Assert.Contains("int8", e.Message, StringComparison.Ordinal);
        Assert.Contains("CPU", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => CatsDogsClassifier.Load(model.Int8Path, new ModelLoadOptions { ModelsDirectory = model.ModelsDirectory, Device = "cuda" }));
    }

    [Fact]
    public void DefaultPrecision_TrainsInt8WhereTheCpuHasDotProducts_Fp32Elsewhere_AndTheModelRecordsWhichOne()
    {
        var expected = Precisions.CpuHasInt8DotProduct ? Precision.Int8 : Precision.Fp32;
        var options = model.Fp32Options with { Precision = new FeatureOptions().Precision };
        Assert.Equal(Precision.Auto, options.Precision);
        using var trained = new CatsDogsTrainer(options).Train(ImageDataset.FromFolder(model.PhotosDirectory));
        Assert.Equal(expected, trained.Precision);
        Assert.Equal(expected == Precision.Int8, trained.Calibrations is not null);
        using var dir = TestEnvironment.NewTempDirectory();
        trained.Save(dir.File("auto.zip"));
        Assert.Equal(Precisions.Name(expected), CatsDogsClassifier.Inspect(dir.File("auto.zip")).Precision);

        // Auto is a training choice: features computed without training (the workers' pipeline) are float32.
        using var pipeline = FeaturePipeline.Open(options.Features);
        using var fp32 = FeaturePipeline.Open(model.Fp32Options.Features);
        var photo = File.ReadAllBytes(model.Photos[0]);
        Assert.Equal(fp32.Extract(photo), pipeline.Extract(photo));
    }

    [Fact]
    public void Cli_TrainWithoutPrecision_SaysWhichOneAutoChose()
    {
        using var dir = TestEnvironment.NewTempDirectory();
        var catalogue = dir.File("catalogue.json");
        File.WriteAllText(catalogue, BackboneCatalogJson.Serialize([Int8Model.Spec]));
        var train = CliProcess.Run(Timeout, "train", model.PhotosDirectory, "--out", dir.File("auto.zip"), "--backbones", "convnet", "--catalog", catalogue, "--models-dir", model.ModelsDirectory,
            "--no-cache", "--views", "native,native+mirror", "--folds", "3", "--calibration-photos", "10");
        Assert.True(train.ExitCode == 0, train.Stderr);
        var expected = Precisions.CpuHasInt8DotProduct ? "int8" : "fp32";
        Assert.Contains($"precision {expected} (auto)", train.Stderr, StringComparison.Ordinal);
        Assert.Contains($"Precision:  {expected}", CliProcess.Run(Timeout, "info", dir.File("auto.zip")).Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Cli_TrainPrecisionInt8_ThenInfoAndPredict_FollowIt()
    {
        using var dir = TestEnvironment.NewTempDirectory();
        var catalogue = dir.File("catalogue.json");
        File.WriteAllText(catalogue, BackboneCatalogJson.Serialize([Int8Model.Spec]));
        var saved = dir.File("int8.zip");
        var help = CliProcess.Run(Timeout, "train", "--help");
        Assert.Contains(string.Join(", ", Precisions.Names), help.Stdout, StringComparison.Ordinal);
        Assert.Contains("[default: auto]", help.Stdout, StringComparison.Ordinal);

        var train = CliProcess.Run(Timeout, "train", model.PhotosDirectory, "--out", saved, "--backbones", "convnet", "--catalog", catalogue, "--models-dir", model.ModelsDirectory,
            "--no-cache", "--views", "native,native+mirror", "--folds", "3", "--precision", "int8", "--calibration-photos", "10");
        Assert.True(train.ExitCode == 0, train.Stderr);
        Assert.Contains("precision int8", train.Stderr, StringComparison.Ordinal);

        var info = CliProcess.Run(Timeout, "info", saved);
        Assert.Contains("Precision:  int8", info.Stdout, StringComparison.Ordinal);
        var predict = CliProcess.Run(Timeout, "predict", saved, model.Photos[0], "--models-dir", model.ModelsDirectory, "--no-cache");
        Assert.True(predict.ExitCode == 0, predict.Stderr);
        using var loaded = CatsDogsClassifier.Load(saved, model.ModelsDirectory, useCache: false);
        Assert.Equal(model.Int8.Predict(model.Photos[0]).DogProbability, loaded.Predict(model.Photos[0]).DogProbability);

        var bad = CliProcess.Run(Timeout, "train", model.PhotosDirectory, "--out", dir.File("x.zip"), "--precision", "int4");
        CliProcess.AssertCleanFailure(bad, "train");
        Assert.Contains("Unknown precision 'int4'", bad.Stderr, StringComparison.Ordinal);
    }
}
