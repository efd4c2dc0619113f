using CatsDogs.ML.Data;
using System.Diagnostics;
using System.Text.Json;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using RabbitMQ.Client.Exceptions;

namespace CatsDogs.ML.RabbitMQ;

/// <summary>A photo of a job with no answer, and why: dead-lettered, or not sent by scatter.</summary>
/// <param name="Id">Its id in the job.</param>
/// <param name="Path">Its path; null when the message was too damaged to tell.</param>
/// <param name="Reason">Why it has no answer.</param>
internal sealed record Unanswered(long Id, string? Path, string Reason);

/// <summary>Everything a job produced, by id.</summary>
internal sealed record CollectedJob(JobManifest Manifest, IReadOnlyList<(long Id, WorkResult Result)> Results, IReadOnlyList<Unanswered> Unanswered, int Duplicates, IReadOnlyList<string> Refused);

/// <summary>
/// Gathers a job: consumes its results, dead letters and manifest until every photo is accounted for exactly once.
/// Each answer goes to the journal before it is acknowledged; the manifest stays unacknowledged (so with the broker)
/// until the job is complete, and is journaled too, so a rerun finishes even after the queues are gone.
/// </summary>
internal sealed class JobCollector
{
    private readonly string _job;
    private readonly object _gate = new();
    private readonly Dictionary<long, WorkResult> _results = new();
    private readonly Dictionary<long, Unanswered> _dead = new();
    private readonly List<string> _refused = new();
    private readonly StreamWriter? _journal;
    private JobManifest? _manifest;
    private ulong? _manifestTag;
    private int _duplicates;

    private JobCollector(string job, StreamWriter? journal)
    {
        _job = job;
        _journal = journal;
    }

    public static async Task<CollectedJob> CollectAsync(string job, BrokerOptions broker, string? journalPath, TimeSpan? timeout,
        IProgress<CatsDogsProgress>? progress, CancellationToken token)
    {
        Topology.CheckJob(job);
        broker.Validate();
        var replayed = journalPath is not null && File.Exists(journalPath) ? File.ReadAllLines(journalPath) : [];
        await using var journal = journalPath is null ? null : new StreamWriter(new FileStream(journalPath, FileMode.Append, FileAccess.Write, FileShare.Read));
        var collector = new JobCollector(job, journal);
        collector.Replay(replayed, journalPath);

        await using var connection = await BrokerConnection.OpenAsync(broker, "gather", token);
        await using var channel = await connection.ConsumingChannelAsync(1, token);
        await Topology.DeclareJobAsync(channel, job, token);
        await channel.BasicQosAsync(0, 256, global: false, token);
        await collector.ConsumeAsync(channel, Topology.Results(job), collector.OnResult, token);
        await collector.ConsumeAsync(channel, Topology.Dead(job), collector.OnDead, token);
        await collector.ConsumeAsync(channel, Topology.Control(job), collector.OnManifest, token);

        var clock = Stopwatch.StartNew();
        while (!collector.IsComplete(out var accounted, out var total))
        {
            progress?.Report(new CatsDogsProgress("gather", accounted, total));
            if (timeout is { } limit && clock.Elapsed > limit)
            {
                throw new BrokerException(collector.Incomplete(limit, journalPath));
            }

            await Task.Delay(100, token);
        }

        var collected = collector.Snapshot();
        progress?.Report(new CatsDogsProgress("gather", (int)collected.Manifest.Total, (int)collected.Manifest.Total));
        await collector.FinishAsync(channel, token);
        return collected;
    }

    private async Task ConsumeAsync(IChannel channel, string queue, Func<BasicDeliverEventArgs, bool> handle, CancellationToken token)
    {
        var consumer = new AsyncEventingBasicConsumer(channel);
        consumer.ReceivedAsync += async (_, delivery) =>
        {
            try
            {
                if (handle(delivery))
                {
                    await channel.BasicAckAsync(delivery.DeliveryTag, multiple: false);
                }
            }
            catch (Exception e) when (e is AlreadyClosedException or OperationInterruptedException or IOException)
            {
                // Journaled but not acknowledged: the broker redelivers it after recovery and it counts as a duplicate.
            }
        };
        await channel.BasicConsumeAsync(queue, autoAck: false, consumer, token);
    }

    // Each handler records what the delivery says and returns whether to acknowledge it now.
    private bool OnResult(BasicDeliverEventArgs delivery)
    {
        WorkResult result;
        try
        {
            result = Messages.Read<WorkResult>(delivery.Body.Span);
        }
        catch (JsonException e)
        {
            Record(refused: $"an unreadable answer ({delivery.BasicProperties.MessageId}): {e.Message}");
            return true;
        }

        Record(result: result);
        return true;
    }

    private bool OnDead(BasicDeliverEventArgs delivery)
    {
        var properties = delivery.BasicProperties;
        if (Messages.Identify(properties) is not { } who)
        {
            Record(refused: $"a dead-lettered message that names no photo ({properties.MessageId ?? "no id"})");
            return true;
        }

        var reason = Messages.Text(properties, "x-first-death-reason") switch
        {
            "delivery_limit" => "dead-lettered: it failed or stopped every worker that took it, up to the delivery limit (see the workers' logs)",
            "rejected" => "dead-lettered: a worker refused its message as unreadable or meant for another model (see the workers' logs)",
            { } other => $"dead-lettered ({other})",
            null => "dead-lettered",
        };
        Record(dead: new Unanswered(who.Id, who.Path, reason), job: who.Job);
        return true;
    }

    private bool OnManifest(BasicDeliverEventArgs delivery)
    {
        JobManifest manifest;
        try
        {
            manifest = Messages.Read<JobManifest>(delivery.Body.Span);
        }
        catch (JsonException e)
        {
            Record(refused: $"an unreadable manifest: {e.Message}");
            return true;
        }

        Record(manifest: manifest);
        lock (_gate)
        {
            _manifestTag = delivery.DeliveryTag; // kept unacknowledged until the job is complete
        }

        return false;
    }

    private void Replay(string[] lines, string? path)
    {
        foreach (var line in lines.Where(l => l.Length > 0))
        {
            JournalEntry entry;
            try
            {
                entry = Messages.Read<JournalEntry>(System.Text.Encoding.UTF8.GetBytes(line));
            }
            catch (JsonException)
            {
                continue; // a line cut short by a crash: its delivery was not acknowledged, so it comes again
            }

            if ((entry.Manifest?.Job ?? entry.Result?.Job ?? _job) != _job)
            {
                throw new BrokerException($"The journal '{path}' belongs to job '{entry.Manifest?.Job ?? entry.Result?.Job}', not '{_job}'; give another --out or delete it.");
            }

            Apply(entry);
        }
    }

    private void Record(JobManifest? manifest = null, WorkResult? result = null, Unanswered? dead = null, string? refused = null, string? job = null)
    {
        lock (_gate)
        {
            if (job is not null && job != _job || result is not null && result.Job != _job)
            {
                _refused.Add($"an answer for job '{job ?? result!.Job}' in job '{_job}''s queue");
                return;
            }

            var entry = new JournalEntry(manifest, result, dead, refused);
            if (Apply(entry) && _journal is not null)
            {
                _journal.WriteLine(System.Text.Encoding.UTF8.GetString(Messages.Bytes(entry)));
                _journal.Flush();
            }
        }
    }

    // Applies one entry; false when it changes nothing (a duplicate), so it is not journaled again.
    private bool Apply(JournalEntry entry)
    {
        if (entry.Refused is { } why)
        {
            _refused.Add(why);
            return true;
        }

        if (entry.Manifest is { } manifest)
        {
            if (_manifest is not null)
            {
                return false;
            }

            _manifest = manifest;
            foreach (var (id, result) in _results.ToArray())
            {
                if (Refusal(result) is { } refusal)
                {
                    _results.Remove(id);
                    _refused.Add(refusal);
                }
            }

            return true;
        }

        if (entry.Result is { } answer)
        {
            if (_manifest is not null && Refusal(answer) is { } refusal)
            {
                _refused.Add(refusal);
                return true;
            }

            if (!_results.TryAdd(answer.Id, answer))
            {
                _duplicates++;
                return false;
            }

            _dead.Remove(answer.Id); // an answer beats a dead letter of the same photo (it did get through once)
            return true;
        }

        if (entry.Dead is { } dead)
        {
            if (_results.ContainsKey(dead.Id) || !_dead.TryAdd(dead.Id, dead))
            {
                _duplicates++;
                return false;
            }

            return true;
        }

        return false;
    }

    private string? Refusal(WorkResult result) =>
        result.Target != _manifest!.Target ? $"photo {result.Id} ({result.Path}) answered by worker {result.Worker} running {result.Target[..Math.Min(16, result.Target.Length)]}…, not the job's {_manifest.Target[..16]}…"
        : result.Id < 0 || result.Id >= _manifest.Total ? $"an answer for photo {result.Id}, outside the job's {_manifest.Total} photos"
        : null;

    private bool IsComplete(out int accounted, out int total)
    {
        lock (_gate)
        {
            total = (int)(_manifest?.Total ?? 0);
            accounted = _results.Count + _dead.Count + (_manifest?.Skipped.Count ?? 0);
            return _manifest is not null && accounted >= _manifest.Total && Missing(1).Count == 0;
        }
    }

    private List<long> Missing(int max)
    {
        var missing = new List<long>();
        var skipped = _manifest!.Skipped.Select(s => s.Id).ToHashSet();
        for (long id = 0; id < _manifest.Total && missing.Count < max; id++)
        {
            if (!_results.ContainsKey(id) && !_dead.ContainsKey(id) && !skipped.Contains(id))
            {
                missing.Add(id);
            }
        }

        return missing;
    }

    private string Incomplete(TimeSpan limit, string? journalPath)
    {
        lock (_gate)
        {
            var kept = journalPath is null ? "" : $"; the journal '{journalPath}' keeps what was gathered: run gather again to go on";
            if (_manifest is null)
            {
                return $"Job '{_job}' has no manifest after {limit.TotalSeconds:F0} s: scatter has not finished publishing it (or the job name is wrong); {_results.Count} answers gathered so far{kept}.";
            }

            var missing = Missing(10);
            var left = _manifest.Total - _results.Count - _dead.Count - _manifest.Skipped.Count;
            return $"Job '{_job}': {left} of {_manifest.Total} photos not answered after {limit.TotalSeconds:F0} s (ids {string.Join(", ", missing)}{(left > missing.Count ? ", …" : "")}); are workers running for model {_manifest.Target[..16]}…?{kept}.";
        }
    }

    private CollectedJob Snapshot()
    {
        lock (_gate)
        {
            var unanswered = _dead.Values.Concat(_manifest!.Skipped.Select(s => new Unanswered(s.Id, s.Path, s.Reason))).OrderBy(u => u.Id).ToArray();
            var results = _results.OrderBy(r => r.Key).Select(r => (r.Key, r.Value)).ToArray();
            return new CollectedJob(_manifest, results, unanswered, _duplicates, _refused.ToArray());
        }
    }

    // The job is complete: release the manifest and remove the job's queues (late duplicates have nowhere to go then,
    // and workers drop them). Failures here lose nothing: the journal has the whole job.
    private async Task FinishAsync(IChannel channel, CancellationToken token)
    {
        try
        {
            ulong? tag;
            lock (_gate)
            {
                tag = _manifestTag;
            }

            if (tag is { } t)
            {
                await channel.BasicAckAsync(t, multiple: false, token);
            }

            foreach (var queue in new[] { Topology.Results(_job), Topology.Dead(_job), Topology.Control(_job) })
            {
                await channel.QueueDeleteAsync(queue, ifUnused: false, ifEmpty: false, cancellationToken: token);
            }
        }
        catch (Exception e) when (e is AlreadyClosedException or OperationInterruptedException or IOException)
        {
            // The queues stay behind; a rerun of gather completes from the journal and removes them.
        }
    }

    /// <summary>One line of the journal: exactly one member is set.</summary>
    private sealed record JournalEntry(JobManifest? Manifest, WorkResult? Result, Unanswered? Dead, string? Refused);
}
