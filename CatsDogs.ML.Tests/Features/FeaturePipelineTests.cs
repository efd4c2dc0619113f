using CatsDogs.ML.Data;
using CatsDogs.ML.Features;
using CatsDogs.ML.Imaging;
using Microsoft.ML;
using Microsoft.ML.Data;
using Xunit;

namespace CatsDogs.ML.Tests.Features;

/// <summary>
/// The public feature pipeline on the tiny synthetic backbone with the four default views: every path a photo can take
/// (one photo, a cold batch, a warm batch, a worker's outputs stored into a cache) gives the same floats.
/// </summary>
[Collection("tiny model")]
[Trait("Category", Category.Unit)]
public class FeaturePipelineTests(TinyModel tiny)
{
    private FeatureOptions Options(string? cacheDirectory, IReadOnlyList<ImageView>? views = null) => new()
    {
        Backbones = [TinyModel.Spec],
        Views = views ?? ImageView.Defaults,
        ModelsDirectory = tiny.ModelsDirectory,
        CacheDirectory = cacheDirectory,
        UseCache = cacheDirectory is not null,
        MaxDegreeOfParallelism = 2,
    };

    private ImageDataset Photos => ImageDataset.FromFolder(tiny.PhotosDirectory);

    [Fact]
    public void OnePhoto_ColdBatch_AndWarmBatch_GiveTheSameFloats()
    {
        using var cache = TestEnvironment.NewTempDirectory();
        using var pipeline = FeaturePipeline.Open(Options(cache.Path));
        var photos = Photos;

        Assert.Equal(photos.Count, pipeline.Uncached(photos).Count);
        var cold = pipeline.ExtractMany(photos);
        var entries = CacheEntries(cache.Path);
        Assert.Empty(pipeline.Uncached(photos));
        var warm = pipeline.ExtractMany(photos);

        Assert.Equal(photos.Count * ImageView.Defaults.Count, entries.Length); // one entry per (backbone, view)
        Assert.Equal(entries, CacheEntries(cache.Path)); // the warm batch read them all, wrote none
        Assert.Equal(photos.Select(p => p.Path), cold.Images.Select(p => p.Path));
        for (var i = 0; i < photos.Count; i++)
        {
            Assert.Equal(16, cold.Features[i].Length);
            Assert.Equal(cold.Features[i], warm.Features[i]);
            Assert.Equal(cold.Features[i], pipeline.Extract(File.ReadAllBytes(photos[i].Path), photos[i].Path));
        }
    }

    [Fact]
    public void WorkerOutputs_StoredIntoACache_AreWhatExtractionReads()
    {
        using var cache = TestEnvironment.NewTempDirectory();
        using var worker = FeaturePipeline.Open(Options(null));
        using var trainer = FeaturePipeline.Open(Options(cache.Path));
        var photos = Photos.Take(5).ToArray();

        Assert.Equal(trainer.Identity, worker.Identity); // the cache setting is no part of what features depend on
        foreach (var photo in photos)
        {
            var outputs = worker.ExtractViews(File.ReadAllBytes(photo.Path), photo.Path);
            Assert.Equal(worker.Identity, outputs.Identity);
            Assert.True(trainer.Store(outputs));
        }

        var stored = CacheEntries(cache.Path);
        Assert.Empty(trainer.Uncached(photos));
        var extracted = trainer.ExtractMany(photos);
        Assert.Equal(stored, CacheEntries(cache.Path)); // read back, not recomputed
        for (var i = 0; i < photos.Length; i++)
        {
            Assert.Equal(worker.Extract(File.ReadAllBytes(photos[i].Path)), extracted.Features[i]);
        }
    }

    [Fact]
    public void Store_FromOtherViews_OfAnotherShape_WithNaN_OrWithoutCache_IsRefused_AndWritesNothing()
    {
        using var cache = TestEnvironment.NewTempDirectory();
        using var trainer = FeaturePipeline.Open(Options(cache.Path));
        using var noCache = FeaturePipeline.Open(Options(null));
        using var otherViews = FeaturePipeline.Open(Options(null, ImageView.ParseList("squash,squash+mirror")));
        var bytes = File.ReadAllBytes(Photos[0].Path);
        var good = noCache.ExtractViews(bytes);

        Assert.NotEqual(trainer.Identity, otherViews.Identity);
        Assert.False(trainer.Store(otherViews.ExtractViews(bytes)));
        Assert.False(trainer.Store(good with { Values = [good.Values[0][..^1]] })); // one view short
        var poisoned = good.Values.Select(v => v.Select(x => x.ToArray()).ToArray()).ToArray();
        poisoned[0][^1][5] = float.NaN;
        Assert.False(trainer.Store(good with { Values = poisoned }));
        Assert.False(noCache.Store(good));
        Assert.False(Directory.Exists(cache.Path) && CacheEntries(cache.Path).Length > 0);
        Assert.True(trainer.Store(good));
    }

    [Fact]
    public void ExtractMany_ListsUnusablePhotosWithTheirReason_AndScoresTheRest()
    {
        using var dir = TestEnvironment.NewTempDirectory();
        File.WriteAllText(dir.File("cat.101.jpg"), "not a photo");
        var photos = Photos.Take(3).Append(ImageEntry.FromPath(dir.File("cat.101.jpg"))).Append(ImageEntry.FromPath(dir.File("dog.102.jpg"))).ToArray();
        using var pipeline = FeaturePipeline.Open(Options(null));

        var extracted = pipeline.ExtractMany(photos);

        Assert.Equal(photos.Take(3), extracted.Images);
        Assert.Equal([dir.File("cat.101.jpg"), dir.File("dog.102.jpg")], extracted.Skipped.Select(s => s.Image.Path));
        Assert.Contains("not an image", extracted.Skipped[0].Reason, StringComparison.Ordinal);
        Assert.Contains("does not exist", extracted.Skipped[1].Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Explain_PredictAndPredictMany_GiveTheSamePDog_BitForBit()
    {
        using var explainer = tiny.Classifier.CreateExplainer();
        var photos = Photos;
        var batch = tiny.Classifier.PredictMany(photos);
        Assert.Empty(batch.Skipped);
        for (var i = 0; i < photos.Count; i++)
        {
            var bytes = File.ReadAllBytes(photos[i].Path);
            var predicted = tiny.Classifier.Predict(bytes).DogProbability;
            Assert.Equal(predicted, batch.Scored[i].DogProbability);
            Assert.Equal(predicted, tiny.Classifier.Predict(bytes, "bytes", parallelViews: false).DogProbability);
            Assert.Equal(predicted, explainer.Explain(bytes).DogProbability);
        }
    }

    [Fact]
    public void LoadFeatures_FeedsAnMLNetTrainer_WhoseModelSavesAndLoads()
    {
        var ml = new MLContext(seed: 1);
        using var pipeline = FeaturePipeline.Open(Options(null));
        var data = ml.Data.LoadFeatures(pipeline.ExtractMany(Photos));
        Assert.Equal(new VectorDataViewType(NumberDataViewType.Single, 16), data.Schema["Features"].Type);

        var model = ml.Transforms.NormalizeMeanVariance("Features")
            .Append(ml.BinaryClassification.Trainers.LbfgsLogisticRegression("Label", "Features")).Fit(data);
        using var stream = new MemoryStream();
        ml.Model.Save(model, data.Schema, stream);
        stream.Position = 0;
        var loaded = ml.Model.Load(stream, out _);

        var before = model.Transform(data).GetColumn<float>("Probability").ToArray();
        Assert.Equal(before, loaded.Transform(data).GetColumn<float>("Probability").ToArray());
        Assert.Equal(1.0, ml.BinaryClassification.Evaluate(loaded.Transform(data)).Accuracy);
    }

    [Fact]
    public void LoadFeatures_WithoutLabels_HasNoLabelColumn_AndRefusesAMix()
    {
        var ml = new MLContext(seed: 1);
        using var pipeline = FeaturePipeline.Open(Options(null));
        using var dir = TestEnvironment.NewTempDirectory();
        File.WriteAllBytes(dir.File("photo.png"), TinyModel.Photo(dog: true, 3));

        var unlabelled = pipeline.ExtractMany([ImageEntry.FromPath(dir.File("photo.png"))]);
        Assert.Null(ml.Data.LoadFeatures(unlabelled).Schema.GetColumnOrNull("Label"));
        var mixed = pipeline.ExtractMany(Photos.Take(2).Append(ImageEntry.FromPath(dir.File("photo.png"))).ToArray());
        var error = Assert.Throws<ArgumentException>(() => ml.Data.LoadFeatures(mixed));
        Assert.Contains("photo.png", error.Message, StringComparison.Ordinal);
    }

    private static string[] CacheEntries(string directory) =>
        Directory.EnumerateFiles(directory, "*.f32", SearchOption.AllDirectories).Select(f => $"{Path.GetFileName(f)}:{Convert.ToHexString(File.ReadAllBytes(f))}").Order(StringComparer.Ordinal).ToArray();
}
