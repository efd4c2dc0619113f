using System.Diagnostics;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace CatsDogs.ML.RabbitMQ;

/// <summary>
/// The one owner of a connection to the broker. The client recovers the connection, its channels, the queues and
/// bindings it declared and its consumers by itself after a network failure or a broker restart; only the first
/// connection is retried here, while the broker may still be booting.
/// </summary>
internal sealed class BrokerConnection : IAsyncDisposable
{
    private BrokerConnection(IConnection connection) => Connection = connection;

    public IConnection Connection { get; }

    /// <summary>Connects, retrying every second until <see cref="BrokerOptions.ConnectTimeout"/>.</summary>
    /// <exception cref="BrokerException">The broker could not be reached in time, or refused the credentials.</exception>
    public static async Task<BrokerConnection> OpenAsync(BrokerOptions options, string role, CancellationToken token)
    {
        options.Validate();
        var factory = new ConnectionFactory
        {
            Uri = new Uri(options.Uri),
            AutomaticRecoveryEnabled = true,
            TopologyRecoveryEnabled = true,
            NetworkRecoveryInterval = TimeSpan.FromSeconds(1),
            RequestedHeartbeat = TimeSpan.FromSeconds(15),
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
