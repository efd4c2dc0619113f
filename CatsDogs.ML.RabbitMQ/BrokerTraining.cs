using System.Diagnostics;
using CatsDogs.ML.Data;
using CatsDogs.ML.Features;

namespace CatsDogs.ML.RabbitMQ;

/// <summary>What the workers computed for a training run.</summary>
/// <param name="Photos">Photos listed.</param>
/// <param name="AlreadyCached">Photos whose features were all in the local cache already (not sent).</param>
/// <param name="Stored">Photos whose features came back from workers and went into the local cache.</param>
/// <param name="Unusable">Photos the workers could not use (training skips them with the same reason).</param>
/// <param name="Unanswered">Photos dead-lettered or not stored; training computes these itself.</param>
/// <param name="Duplicates">Answers received more than once, counted once.</param>
/// <param name="Elapsed">Time from the first message to the last answer.</param>
public sealed record BrokerFeatureSummary(int Photos, int AlreadyCached, int Stored, int Unusable, int Unanswered, int Duplicates, TimeSpan Elapsed);

/// <summary>
/// Training on many machines: workers compute the backbone features (the expensive part), the trainer fits the head.
/// Call <see cref="FillFeatureCacheAsync"/>, then <see cref="CatsDogsTrainer.Train"/> with the same options: every
/// photo's features are then read from the cache, so the model equals one trained on a single machine.
/// </summary>
public static class BrokerTraining
{
    /// <summary>
    /// Sends the photos whose features are not in the local cache yet to feature workers
    /// (<see cref="BrokerWorker.FeaturesAsync"/> with the same backbones and views), and writes their answers into
    /// the cache under the keys training reads. Photos no worker could answer are left to training, which computes them.
    /// </summary>
    /// <param name="options">The training options (backbones, views, cache folder).</param>
    /// <param name="photos">The training photos.</param>
    /// <param name="broker">The broker.</param>
    /// <param name="inline">Send the photos' bytes instead of their paths (workers without the shared storage).</param>
    /// <param name="timeout">How long to wait for workers' answers (null: as long as it takes).</param>
    /// <param name="log">Says which workers to start and what came back.</param>
    /// <param name="progress">Photos sent and answered.</param>
    /// <param name="cancellationToken">Stops waiting; what came back is in the cache already.</param>
    /// <exception cref="ArgumentException">The options turn the cache off (it is how answers reach training), a photo is unlabelled, or a class has fewer than two photos.</exception>
    /// <exception cref="BrokerException">The broker cannot be reached, or the answers did not come in time.</exception>
    public static async Task<BrokerFeatureSummary> FillFeatureCacheAsync(CatsDogsOptions options, IReadOnlyList<ImageEntry> photos, BrokerOptions broker, bool inline = false,
        TimeSpan? timeout = null, TextWriter? log = null, IProgress<CatsDogsProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var features = options.Features.Validate();
        LabelChecks.RequireLabels(photos, "training");
        LabelChecks.UsableLabels(photos, photos.Count, "Training"); // fail before the workers' time is spent, not after
        if (!features.UseCache)
        {
            throw new ArgumentException("Training with --broker needs the feature cache: the workers' answers reach training through it. Drop --no-cache.");
        }

        using var pipeline = FeaturePipeline.Open(features);
        var needed = pipeline.Uncached(photos, cancellationToken);
        var target = pipeline.Identity;
        if (needed.Count == 0)
        {
            log?.WriteLine($"All {photos.Count} photos' features are in the cache already; nothing to send.");
            return new BrokerFeatureSummary(photos.Count, photos.Count, 0, 0, 0, 0, TimeSpan.Zero);
        }

        var clock = Stopwatch.StartNew();
        var job = $"train-{DateTime.UtcNow:yyyyMMddHHmmss}-{Guid.NewGuid().ToString("N")[..8]}";
        var sent = await BrokerJobs.PublishAsync(needed, job, JobKind.Features, target, inline, broker, progress, cancellationToken);
        log?.WriteLine($"Sent {sent.Published} of {photos.Count} photos to {sent.Queue} (job {job}; {photos.Count - needed.Count} cached already). Start workers with the same backbones and views: " +
            $"catsdogs worker --broker {broker} --backbones {string.Join(',', options.Backbones.Select(b => b.Name))} --views {string.Join(',', options.Views.Select(v => v.ToString()))}");

        var collected = await JobCollector.CollectAsync(job, broker, journalPath: null, timeout, progress, cancellationToken);
        int stored = 0, unusable = 0, refused = 0;
        foreach (var (_, result) in collected.Results)
        {
            if (result.Error is not null)
            {
                unusable++;
            }
            else if (ToOutputs(result) is { } outputs && pipeline.Store(outputs))
            {
                stored++;
            }
            else
            {
                refused++;
            }
        }

        var summary = new BrokerFeatureSummary(photos.Count, photos.Count - needed.Count, stored, unusable, refused + collected.Unanswered.Count, collected.Duplicates, clock.Elapsed);
        log?.WriteLine($"Workers answered {stored + unusable} photos in {summary.Elapsed.TotalSeconds:F1} s ({stored} stored, {unusable} unusable, {summary.Duplicates} duplicates dropped); {summary.Unanswered} left for training to compute.");
        return summary;
    }

    private static ViewOutputs? ToOutputs(WorkResult result)
    {
        try
        {
            return result is { ImageSha256: { } hash, Decoded: [var width, var height], Features: { } values }
                ? new ViewOutputs(hash, (width, height), result.Target, values.Select(views => views.Select(Messages.Unpack).ToArray()).ToArray())
                : null;
        }
        catch (FormatException)
        {
            return null;
        }
    }
}
