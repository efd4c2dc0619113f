using System.Diagnostics;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace CatsDogs.ML.RabbitMQ;

/// <summary>
/// The one owner of a connection to the broker. For scatter and gather the client recovers the connection, its
/// channels, the queues and bindings it declared and its consumers by itself after a network failure or a broker
/// restart; workers connect again by themselves, forever (<see cref="WorkerLoop"/>). Only the first connection is
/// retried here, while the broker may still be booting.
/// </summary>
internal sealed class BrokerConnection : IAsyncDisposable
{
    /// <summary>RabbitMQ's largest message (its <c>max_message_size</c> cannot exceed 512 MiB).</summary>
    public const uint BrokerMaxMessageBytes = 512u << 20;

    private BrokerConnection(IConnection connection) => Connection = connection;

    public IConnection Connection { get; }

    /// <summary>Connects, retrying every second until <see cref="BrokerOptions.ConnectTimeout"/>.</summary>
    /// <param name="options">The broker.</param>
    /// <param name="role">What this connection is for, in its name.</param>
    /// <param name="token">Stops trying.</param>
    /// <param name="recover">Let the client recover the connection by itself (workers recover by themselves, forever).</param>
    /// <param name="maxBodyBytes">The largest message body received; a larger one drops the connection (the client's default is 64 MiB).</param>
    /// <exception cref="BrokerException">The broker could not be reached in time, or refused the credentials.</exception>
    public static async Task<BrokerConnection> OpenAsync(BrokerOptions options, string role, CancellationToken token, bool recover = true, uint? maxBodyBytes = null)
    {
        options.Validate();
        var factory = new ConnectionFactory
        {
            Uri = new Uri(options.Uri),
            AutomaticRecoveryEnabled = recover,
            TopologyRecoveryEnabled = recover,
            NetworkRecoveryInterval = TimeSpan.FromSeconds(1),
            RequestedHeartbeat = TimeSpan.FromSeconds(15),
            MaxInboundMessageBodySize = maxBodyBytes ?? (uint)Messages.MaxBodyBytes,
            ClientProvidedName = $"catsdogs {role} {options.ClientName ?? $"{Environment.MachineName}/{Environment.ProcessId}"}",
        };

        var clock = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                return new BrokerConnection(await factory.CreateConnectionAsync(token));
            }
            catch (BrokerUnreachableException e) when (e.InnerException is AuthenticationFailureException)
            {
                throw new BrokerException($"The broker at {options} refused the credentials: {e.InnerException.Message}", e);
            }
            catch (BrokerUnreachableException e)
            {
                if (clock.Elapsed >= options.ConnectTimeout)
                {
                    throw new BrokerException($"Could not reach the broker at {options} within {options.ConnectTimeout.TotalSeconds:F0} s: {Innermost(e).Message}", e);
                }

                await Task.Delay(TimeSpan.FromSeconds(1), token);
            }
        }
    }

    /// <summary>A channel whose publishes complete only when the broker has confirmed them (persisted).</summary>
    public Task<IChannel> ConfirmingChannelAsync(CancellationToken token) =>
        Connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true), token);

    /// <summary>A channel that consumes with <paramref name="concurrency"/> deliveries handled at once.</summary>
    public Task<IChannel> ConsumingChannelAsync(int concurrency, CancellationToken token) =>
        Connection.CreateChannelAsync(new CreateChannelOptions(false, false, consumerDispatchConcurrency: (ushort)concurrency), token);

    public async ValueTask DisposeAsync()
    {
        try
        {
            await Connection.CloseAsync(TimeSpan.FromSeconds(5));
        }
        catch (Exception e) when (e is AlreadyClosedException or OperationInterruptedException or IOException or TimeoutException or OperationCanceledException)
        {
            // Closing a connection the broker already dropped: nothing left to release but the object.
        }

        Connection.Dispose();
    }

    private static Exception Innermost(Exception e) => e.InnerException is { } inner ? Innermost(inner) : e;
}

/// <summary>The broker cannot be used: unreachable, refusing credentials, or a job's queues are missing.</summary>
public sealed class BrokerException : CatsDogsException
{
    /// <summary>Creates the exception.</summary>
    public BrokerException(string message, Exception? inner = null)
        : base(message, inner)
    {
    }
}
