using System.Diagnostics;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using RabbitMQ.Client.Exceptions;

namespace CatsDogs.ML.RabbitMQ;

/// <summary>What a worker did before it stopped.</summary>
/// <param name="Queue">The queue it consumed.</param>
/// <param name="Done">Photos answered (scored, featurised, or reported unusable) and acknowledged.</param>
/// <param name="Unusable">Of those, photos the library could not use (the answer carries its reason).</param>
/// <param name="Returned">Photos given back to the queue because scoring failed for another reason.</param>
/// <param name="Rejected">Messages refused as unreadable or meant for another model (dead-lettered at once).</param>
public sealed record WorkerSummary(string Queue, long Done, long Unusable, long Returned, long Rejected);

/// <summary>How one kind of worker answers one photo.</summary>
internal interface IWorkHandler
{
    JobKind Kind { get; }

    /// <summary>The model SHA-256 or feature identity this worker runs; orders for another are refused.</summary>
    string Target { get; }

    /// <summary>The answer for one photo; unusable photos are answers (with the library's reason), not exceptions.</summary>
    /// <exception cref="Exception">Anything else: the photo goes back to the queue for another try.</exception>
    WorkResult Handle(WorkOrder order, ReadOnlyMemory<byte> body, string worker);
}

/// <summary>
/// The consuming loop every worker runs: competing consumers on the target's queue, at most
/// <see cref="BrokerOptions.Prefetch"/> unacknowledged photos, <see cref="BrokerOptions.Concurrency"/> handled at once;
/// each answer is published with a publisher confirm, and only then is the photo acknowledged, so a worker that dies
/// at any point loses nothing (the broker redelivers what it had not acknowledged). A message is checked field by
/// field before anything is done for it (<see cref="Messages.Check"/>, <see cref="PathPolicy"/>); one that fails is
/// dead-lettered at once with the reason in the log. When the connection drops, for whatever cause, the cause is
/// logged at once and the worker connects again, forever, waiting 1 s, 2 s, 4 s … up to 30 s between tries. On stop
/// it cancels its consumer, finishes what it already holds (up to <see cref="DrainTimeout"/>) and closes, which
/// returns anything left.
/// </summary>
internal static class WorkerLoop
{
    public static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(60);

    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(30);

    public static async Task<WorkerSummary> RunAsync(IWorkHandler handler, BrokerOptions options, TextWriter log, CancellationToken stop)
    {
        var queue = handler.Kind == JobKind.Score ? Topology.ScoreQueue(handler.Target) : Topology.FeatureQueue(handler.Target);
        var name = options.ClientName ?? $"{Environment.MachineName}/{Environment.ProcessId}";
        var policy = new PathPolicy(options.AllowedFolders);
        var counts = new Counts();
        var connectOptions = options;
        var reconnecting = false;
        var backoff = TimeSpan.FromSeconds(1);
        while (true)
        {
            string? lost;
            try
            {
                lost = await SessionAsync(handler, connectOptions, policy, queue, name, counts, log, stop);
                backoff = TimeSpan.FromSeconds(1);
            }
            catch (Exception e) when (reconnecting && !stop.IsCancellationRequested
                && e is BrokerException or AlreadyClosedException or OperationInterruptedException or IOException or TimeoutException)
            {
                lost = $"could not connect again: {e.Message}";
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                lost = null; // stopped while connecting again
            }

            if (lost is null)
            {
                break;
            }

            // Reconnection never gives up: a worker that is alive works, or says why it cannot.
            log.WriteLine($"worker {name}: lost the broker: {lost}; connecting again in {backoff.TotalSeconds:F0} s.");
            try
            {
                await Task.Delay(backoff, stop);
            }
            catch (OperationCanceledException)
            {
                break;
            }

            backoff = TimeSpan.FromTicks(Math.Min(MaxBackoff.Ticks, backoff.Ticks * 2));
            connectOptions = options with { ConnectTimeout = TimeSpan.FromSeconds(1) }; // one try each time round
            reconnecting = true;
        }

        var summary = new WorkerSummary(queue, counts.Done, counts.Unusable, counts.Returned, counts.Rejected);
        log.WriteLine($"worker {name}: stopped: {summary.Done} done ({summary.Unusable} unusable), {summary.Returned} returned to the queue, {summary.Rejected} rejected.");
        return summary;
    }

    // One connection's life: null when stopped, else why the connection ended.
    private static async Task<string?> SessionAsync(IWorkHandler handler, BrokerOptions options, PathPolicy policy, string queue, string name, Counts counts,
        TextWriter log, CancellationToken stop)
    {
        await using var broker = await BrokerConnection.OpenAsync(options, "worker", stop, recover: false, maxBodyBytes: BrokerConnection.BrokerMaxMessageBytes);
        var lost = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        broker.Connection.ConnectionShutdownAsync += (_, e) =>
        {
            if (e.Initiator != ShutdownInitiator.Application)
            {
                lost.TrySetResult(Cause(e));
            }

            return Task.CompletedTask;
        };
        await using var publisher = await broker.ConfirmingChannelAsync(stop);
        await Topology.DeclareWorkAsync(publisher, queue, options.MaxDeliveries, stop);
        await using var consuming = await broker.ConsumingChannelAsync(options.EffectiveConcurrency, stop);
        foreach (var channel in new[] { publisher, consuming })
        {
            channel.ChannelShutdownAsync += (_, e) =>
            {
                if (e.Initiator != ShutdownInitiator.Application)
                {
                    lost.TrySetResult("channel closed: " + Cause(e));
                }

                return Task.CompletedTask;
            };
        }

        await consuming.BasicQosAsync(0, options.EffectivePrefetch, global: false, stop);
        long received = 0, finished = 0;
        var consumer = new AsyncEventingBasicConsumer(consuming);
        consumer.ReceivedAsync += async (_, delivery) =>
        {
            Interlocked.Increment(ref received);
            try
            {
                counts.Add(await HandleAsync(handler, policy, delivery, consuming, publisher, name, log));
            }
            finally
            {
                Interlocked.Increment(ref finished);
            }
        };

        var tag = await consuming.BasicConsumeAsync(queue, autoAck: false, consumer, stop);
        var reading = policy.Allowed.Count > 0 ? $"reads paths in {string.Join(", ", policy.Allowed)} only" : "reads paths in the folders each job scattered";
        log.WriteLine($"worker {name}: consuming {queue} on {options} ({options.EffectiveConcurrency} at once, prefetch {options.EffectivePrefetch}; {reading}); SIGTERM or Ctrl+C stops it after the photos it holds.");
        try
        {
            var reported = counts.Done;
            while (true)
            {
                if (await Task.WhenAny(lost.Task, Task.Delay(TimeSpan.FromSeconds(10), stop)) == lost.Task)
                {
                    return lost.Task.Result;
                }

                stop.ThrowIfCancellationRequested();
                if (counts.Done is var now && now != reported)
                {
                    reported = now;
                    log.WriteLine($"worker {name}: {now} done ({counts.Unusable} unusable), {counts.Returned} returned, {counts.Rejected} rejected.");
                }
            }
        }
        catch (OperationCanceledException)
        {
            log.WriteLine($"worker {name}: stopping; finishing the photos it holds.");
        }

        await CancelConsumerAsync(consuming, tag, log);
        await DrainAsync(() => Interlocked.Read(ref received), () => Interlocked.Read(ref finished));
        return null;
    }

    private static string Cause(ShutdownEventArgs e) =>
        $"{e.ReplyCode} {e.ReplyText}{(e.Exception is { } x ? $" ({x.GetType().Name}: {x.Message})" : "")}";

    private sealed class Counts
    {
        private long _done, _unusable, _returned, _rejected;

        public long Done => Interlocked.Read(ref _done);

        public long Unusable => Interlocked.Read(ref _unusable);

        public long Returned => Interlocked.Read(ref _returned);

        public long Rejected => Interlocked.Read(ref _rejected);

        public void Add(Outcome outcome)
        {
            switch (outcome)
            {
                case Outcome.Done:
                    Interlocked.Increment(ref _done);
                    break;
                case Outcome.Unusable:
                    Interlocked.Increment(ref _done);
                    Interlocked.Increment(ref _unusable);
                    break;
                case Outcome.Returned:
                    Interlocked.Increment(ref _returned);
                    break;
                case Outcome.Rejected:
                    Interlocked.Increment(ref _rejected);
                    break;
            }
        }
    }

    private enum Outcome
    {
        Done,
        Unusable,
        Returned,
        Rejected,
        Lost,
    }

    private static async Task<Outcome> HandleAsync(IWorkHandler handler, PathPolicy policy, BasicDeliverEventArgs delivery, IChannel consuming, IChannel publisher,
        string name, TextWriter log)
    {
        try
        {
            WorkOrder order;
            try
            {
                order = Messages.Order(delivery.BasicProperties);
                if (order.Kind != handler.Kind || order.Target != handler.Target)
                {
                    throw new FormatException($"it is {order.Kind.ToString().ToLowerInvariant()} work for {order.Target[..16]}…, and this worker runs {handler.Kind.ToString().ToLowerInvariant()} for {handler.Target[..16]}…");
                }

                if (delivery.Body.Length > Messages.MaxBodyBytes || !order.Inline && delivery.Body.Length > 0)
                {
                    throw new FormatException($"its body is {delivery.Body.Length:N0} bytes; {(order.Inline ? $"a photo message holds at most {Messages.MaxBodyBytes:N0}" : "a path order has none")}");
                }
            }
            catch (FormatException e)
            {
                // Retrying cannot help a message no worker can read: dead-letter it now (gather reports it), saying why here.
                log.WriteLine($"worker {name}: rejected message {Messages.Quote(delivery.BasicProperties.MessageId)} ({delivery.Body.Length:N0} bytes), dead-lettered: {e.Message}.");
                await consuming.BasicRejectAsync(delivery.DeliveryTag, requeue: false);
                return Outcome.Rejected;
            }

            WorkResult result;
            var file = order.Inline ? order.Path : policy.Permit(order);
            if (file is null)
            {
                // The same answer whether the file exists or not, and none of its bytes: the worker did not open it.
                log.WriteLine($"worker {name}: refused photo {order.Id} of job {order.Job}: {Messages.Quote(order.Path)} is outside the folders it may read.");
                result = new WorkResult(order.Job, order.Id, order.Path, handler.Target, name) { Error = PathPolicy.Refusal };
            }
            else
            {
                try
                {
                    result = handler.Handle(order with { Path = file }, delivery.Body, name) with { Path = order.Path };
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    // Not the photo's fault as far as we can tell (e.g. a runtime failure): another worker may succeed. The
                    // broker counts deliveries and dead-letters the photo after the limit, so a photo that always fails ends.
                    log.WriteLine($"worker {name}: {order.Path}: {e.GetType().Name}: {e.Message}; returned to the queue.");
                    await consuming.BasicNackAsync(delivery.DeliveryTag, multiple: false, requeue: true);
                    return Outcome.Returned;
                }
            }

            try
            {
                await publisher.BasicPublishAsync(string.Empty, Topology.Results(order.Job), mandatory: true,
                    Messages.Persistent(order.Job, order.Id, "application/json"), Messages.Bytes(result));
            }
            catch (PublishException e) when (e.IsReturn)
            {
                // The job's results queue is gone: gather finished and removed it, so this answer is not wanted.
                log.WriteLine($"worker {name}: job {order.Job} has no results queue any more (already gathered); dropping photo {order.Id}.");
            }

            await consuming.BasicAckAsync(delivery.DeliveryTag, multiple: false);
            return result.Error is null ? Outcome.Done : Outcome.Unusable;
        }
        catch (Exception e) when (e is AlreadyClosedException or OperationInterruptedException or PublishException or IOException or ObjectDisposedException)
        {
            // The connection dropped (or the broker refused the publish) before the acknowledgement: the broker
            // redelivers the photo, and gather drops the duplicate answer if the first one did arrive.
            log.WriteLine($"worker {name}: lost the broker while answering message {delivery.BasicProperties.MessageId}: {e.Message}; it will be redelivered.");
            return Outcome.Lost;
        }
    }

    private static async Task CancelConsumerAsync(IChannel channel, string tag, TextWriter log)
    {
        try
        {
            await channel.BasicCancelAsync(tag, noWait: false).WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (Exception e) when (e is AlreadyClosedException or OperationInterruptedException or TimeoutException or IOException)
        {
            log.WriteLine($"worker: could not cancel the consumer cleanly ({e.Message}); closing returns its photos.");
        }
    }

    // Deliveries already received when the consumer was cancelled are still dispatched: wait until every one that
    // arrived has finished and none has arrived for a moment, at most DrainTimeout.
    private static async Task DrainAsync(Func<long> received, Func<long> finished)
    {
        var clock = Stopwatch.StartNew();
        var quiet = Stopwatch.StartNew();
        var seen = received();
        while (clock.Elapsed < DrainTimeout)
        {
            var now = received();
            if (now != seen)
            {
                seen = now;
                quiet.Restart();
            }

            if (finished() == now && quiet.Elapsed > TimeSpan.FromMilliseconds(300))
            {
                return;
            }

            await Task.Delay(50);
        }
    }
}
