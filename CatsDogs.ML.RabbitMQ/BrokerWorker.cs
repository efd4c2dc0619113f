using System.Security.Cryptography;
using CatsDogs.ML.Features;

namespace CatsDogs.ML.RabbitMQ;

/// <summary>
/// Workers: consume photos from the broker until cancelled, answer each, and acknowledge it only once the answer is
/// safely with the broker. Start as many as you like, on as many machines: they compete for the same queue.
/// </summary>
public static class BrokerWorker
{
    /// <summary>
    /// Scores photos of score jobs for the model saved at <paramref name="modelPath"/>. Its queue is named after the
    /// file's SHA-256, so a worker only ever receives photos meant for the model it runs.
    /// </summary>
    /// <param name="modelPath">A model saved by <see cref="CatsDogsClassifier.Save"/>.</param>
    /// <param name="load">How to open it (backbones folder, device, signing key).</param>
    /// <param name="broker">The broker.</param>
    /// <param name="log">Where the worker says what it does (a line at start, every 10 s while busy, at stop).</param>
    /// <param name="stop">Cancel to stop gracefully (SIGTERM in the CLI): the worker finishes the photos it holds.</param>
    /// <exception cref="BrokerException">The broker cannot be reached.</exception>
    public static async Task<WorkerSummary> ScoreAsync(string modelPath, ModelLoadOptions load, BrokerOptions broker, TextWriter log, CancellationToken stop)
    {
        var hash = await ModelSha256Async(modelPath, stop);
        using var classifier = CatsDogsClassifier.Load(modelPath, load with { MaxDegreeOfParallelism = broker.EffectiveConcurrency });
        return await WorkerLoop.RunAsync(new ScoreHandler(classifier, hash), broker, log, stop);
    }

    /// <summary>
    /// Computes the features of photos of feature jobs (<see cref="BrokerTraining"/>) for the backbones and views of
    /// <paramref name="features"/>; the queue is named after their identity (backbone files, specs, views), so the
    /// trainer and its workers must agree on all of them.
    /// </summary>
    /// <exception cref="BrokerException">The broker cannot be reached.</exception>
    /// <exception cref="BackboneFileNotFoundException">A backbone file is missing.</exception>
    public static async Task<WorkerSummary> FeaturesAsync(FeatureOptions features, BrokerOptions broker, TextWriter log, CancellationToken stop)
    {
        using var pipeline = FeaturePipeline.Open(features with { UseCache = false });
        return await WorkerLoop.RunAsync(new FeatureHandler(pipeline), broker, log, stop);
    }

    /// <summary>The SHA-256 of a model file: what scatter, workers and gather agree on.</summary>
    /// <exception cref="ArgumentException">There is no file at <paramref name="modelPath"/>.</exception>
    public static async Task<string> ModelSha256Async(string modelPath, CancellationToken cancellationToken = default)
    {
        if (!File.Exists(modelPath))
        {
            throw new ArgumentException($"Model file '{Path.GetFullPath(modelPath)}' does not exist.");
        }

        await using var file = File.OpenRead(modelPath);
        return Convert.ToHexStringLower(await SHA256.HashDataAsync(file, cancellationToken));
    }
}
