# frozen_string_literal: true

# lamina's Ruby runtime: a Lambda Runtime API client, standard library only.
#
# Started as `ruby bootstrap.rb` with the environment AWS gives a function
# (GEM_PATH and RUBYLIB included). Loads the file named by _HANDLER from the
# task root, then loops: GET /invocation/next, call the handler with the
# keyword arguments event: and context:, POST its result (to_json) or its
# error. Handler forms as AWS's: `file.method` (a top-level method) and
# `file.Module::Class.method` (a class method). Errors take AWS's Ruby types:
# `Init<Class>` for what fails while the file loads, `Function<Class>` for
# what the handler raises (a missing method included: NoMethodError).
#
# HTTP/1.1 is spoken by the small client below over one keep-alive socket:
# net/http alone would cost tens of milliseconds of every cold start.

require 'json'
require 'socket'

$stdout.sync = true
$stderr.sync = true

module LaminaRuntime
  TASK_ROOT = ENV.fetch('LAMBDA_TASK_ROOT', '/var/task')
  ADDRESS = ENV.fetch('AWS_LAMBDA_RUNTIME_API', '127.0.0.1:9001')
  BASE = '/2018-06-01/runtime'
  JSON_LOGS = ENV.fetch('AWS_LAMBDA_LOG_FORMAT', '').upcase == 'JSON'

  # The invocation being run, for log records.
  @request_id = nil
  class << self
    attr_accessor :request_id
  end

  # A minimal HTTP/1.1 client for the Runtime API over one keep-alive socket.
  # request returns [status, headers, body] with lower-cased header names; a
  # request whose connection turns out to be dropped is sent once more on a
  # new one.
  class RuntimeApi
    def initialize(address)
      @address = address
      host, _, port = address.rpartition(':')
      @host = host.delete('[]')
      @host = '127.0.0.1' if @host.empty?
      @port = (port.empty? ? 80 : port.to_i)
      @sock = nil
      @rest = +''
    end

    def request(method, path, body = nil, headers = {})
      head = +"#{method} #{BASE}#{path} HTTP/1.1\r\nHost: #{@address}\r\n"
      headers.each { |k, v| head << "#{k}: #{v}\r\n" }
      if body.nil?
        head << "\r\n"
      else
        body = body.b
        head << "Content-Length: #{body.bytesize}\r\n\r\n"
        head << body
      end
      data = head.b
      2.times do |attempt|
        begin
          connect if @sock.nil?
          @sock.write(data)
          return read_response
        rescue IOError, SystemCallError, EOFError
          close
          raise if attempt == 1
        end
      end
    end

    private

    def connect
      @sock = TCPSocket.new(@host, @port)
      @sock.setsockopt(Socket::IPPROTO_TCP, Socket::TCP_NODELAY, 1)
      @rest = +''
    end

    def close
      @sock&.close
    rescue IOError
      nil
    ensure
      @sock = nil
      @rest = +''
    end

    def more
      chunk = @sock.readpartial(65_536)
      @rest << chunk
    end

    def line
      while (i = @rest.index("\r\n")).nil?
        more
      end
      out = @rest.byteslice(0, i)
      @rest = @rest.byteslice(i + 2, @rest.bytesize - i - 2)
      out
    end

    def take(n)
      more while @rest.bytesize < n
      out = @rest.byteslice(0, n)
      @rest = @rest.byteslice(n, @rest.bytesize - n)
      out
    end

    def read_response
      @rest = @rest.b
      more while @rest.index("\r\n\r\n").nil?
      status_line = line
      version, code = status_line.split(' ', 3)
      raise EOFError, "malformed Runtime API response: #{status_line[0, 80].inspect}" unless
        version&.start_with?('HTTP/') && code =~ /\A\d{3}\z/

      headers = {}
      while (l = line) != ''
        name, value = l.split(':', 2)
        headers[name.downcase] = value.to_s.strip
      end
      status = code.to_i
      return read_response if status < 200 # an interim response: the real one follows

      body = read_body(status, headers)
      connection = headers.fetch('connection', '').downcase
      close if connection.include?('close') || (version == 'HTTP/1.0' && !connection.include?('keep-alive'))
      [status, headers, body.force_encoding(Encoding::UTF_8)]
    end

    def read_body(status, headers)
      return +'' if [204, 304].include?(status)

      if headers.fetch('transfer-encoding', '').downcase.include?('chunked')
        body = +''.b
        loop do
          size = line.split(';', 2).first.to_i(16)
          break if size.zero?

          body << take(size)
          line
        end
        nil until line == '' # trailer fields, up to an empty line
        body
      elsif headers.key?('content-length')
        take(headers['content-length'].to_i)
      else # delimited by the end of the connection
        begin
          loop { more }
        rescue EOFError
          nil
        end
        body = @rest
        close
        body
      end
    end
  end

  API = RuntimeApi.new(ADDRESS)

  # What a handler gets as context:, with the names AWS's Ruby runtime gives.
  class LambdaContext
    attr_reader :aws_request_id, :invoked_function_arn, :log_group_name, :log_stream_name,
                :function_name, :memory_limit_in_mb, :function_version, :identity,
                :client_context, :deadline_ms, :tenant_id

    def initialize(headers)
      @aws_request_id = headers['lambda-runtime-aws-request-id']
      @invoked_function_arn = headers['lambda-runtime-invoked-function-arn']
      @deadline_ms = headers['lambda-runtime-deadline-ms'].to_i
      @function_name = ENV['AWS_LAMBDA_FUNCTION_NAME']
      @function_version = ENV['AWS_LAMBDA_FUNCTION_VERSION']
      @memory_limit_in_mb = ENV['AWS_LAMBDA_FUNCTION_MEMORY_SIZE']
      @log_group_name = ENV['AWS_LAMBDA_LOG_GROUP_NAME']
      @log_stream_name = ENV['AWS_LAMBDA_LOG_STREAM_NAME']
      @identity = json_header(headers['lambda-runtime-cognito-identity'])
      @client_context = json_header(headers['lambda-runtime-client-context'])
      # tenant isolation: the invocation's tenant (nil for other functions)
      @tenant_id = headers['lambda-runtime-aws-tenant-id']
    end

    def get_remaining_time_in_millis # rubocop:disable Naming/AccessorMethodName (AWS's name)
      [@deadline_ms - (Process.clock_gettime(Process::CLOCK_REALTIME, :millisecond)), 0].max
    end

    private

    def json_header(value)
      # header bytes arrive as UTF-8 text
      value.nil? || value.empty? ? nil : JSON.parse(value.dup.force_encoding(Encoding::UTF_8))
    end
  end

  module_function

  def error_payload(error, prefix)
    {
      'errorMessage' => error.message.to_s,
      'errorType' => "#{prefix}<#{error.class}>",
      'stackTrace' => error.backtrace || []
    }
  end

  def log_error(payload)
    if JSON_LOGS
      record = { 'timestamp' => Time.now.utc.strftime('%Y-%m-%dT%H:%M:%S.%LZ'), 'level' => 'ERROR',
                 'requestId' => LaminaRuntime.request_id }.merge(payload)
      $stdout.puts JSON.generate(record)
    else
      trace = payload['stackTrace'].map { |frame| "\n  #{frame}" }.join
      $stderr.puts "[ERROR] #{payload['errorType']}: #{payload['errorMessage']}#{trace}"
    end
  end

  def init_error(error)
    payload = error_payload(error, 'Init')
    log_error(payload)
    API.request('POST', '/init/error', JSON.generate(payload),
                'Content-Type' => 'application/json',
                'Lambda-Runtime-Function-Error-Type' => payload['errorType'])
    exit!(1)
  end

  # [receiver, method name] for _HANDLER, the handler's file loaded.
  def load_handler
    name = ENV.fetch('_HANDLER', '')
    parts = name.split('.')
    unless [2, 3].include?(parts.size) && parts.none?(&:empty?)
      raise ArgumentError, "Invalid handler #{parts}, must be of form FILENAME.METHOD or " \
                           'FILENAME.CLASS.METHOD where FILENAME corresponds with an existing ' \
                           'Ruby source file FILENAME.rb, CLASS is an optional module/class ' \
                           'namespace and METHOD is a callable method. If using CLASS, METHOD ' \
                           'must be a class-level method.'
    end
    file = parts.first
    require(file.start_with?('/') ? file : File.join(TASK_ROOT, file))
    receiver = parts.size == 3 ? parts[1] : nil
    [receiver, parts.last]
  rescue ScriptError, StandardError => e
    init_error(e)
  end

  def parse_event(body)
    JSON.parse(body)
  rescue JSON::ParserError
    body
  end

  def run_loop(receiver_name, method)
    main = TOPLEVEL_BINDING.receiver
    loop do
      status, headers, body = API.request('GET', '/invocation/next')
      if status != 200
        sleep 0.01
        next
      end
      id = headers['lambda-runtime-aws-request-id'].to_s
      LaminaRuntime.request_id = id
      trace = headers['lambda-runtime-trace-id']
      trace ? ENV['_X_AMZN_TRACE_ID'] = trace : ENV.delete('_X_AMZN_TRACE_ID')
      begin
        context = LambdaContext.new(headers)
        event = parse_event(body)
        receiver = receiver_name ? Object.const_get(receiver_name) : main
        result = receiver.__send__(method, event: event, context: context)
        payload = result.to_json
        API.request('POST', "/invocation/#{id}/response", payload, 'Content-Type' => 'application/json')
      rescue StandardError, ScriptError, SystemStackError, NoMemoryError => e
        err = error_payload(e, 'Function')
        log_error(err)
        API.request('POST', "/invocation/#{id}/error", JSON.generate(err),
                    'Content-Type' => 'application/json',
                    'Lambda-Runtime-Function-Error-Type' => 'Unhandled')
      end
      LaminaRuntime.request_id = nil
    end
  end
end

# JSON LoggingConfig: Logger records as AWS's JSON records ({timestamp, level,
# message, requestId}), at AWS_LAMBDA_LOG_LEVEL (INFO by default).
if LaminaRuntime::JSON_LOGS
  require 'logger'
  module LaminaRuntime
    LEVELS = { 'TRACE' => Logger::DEBUG, 'DEBUG' => Logger::DEBUG, 'INFO' => Logger::INFO,
               'WARN' => Logger::WARN, 'ERROR' => Logger::ERROR, 'FATAL' => Logger::FATAL }.freeze

    # Logger.new's defaults, in JSON mode
    module JsonLogger
      def initialize(*args, **kwargs)
        super
        self.level = LEVELS.fetch(ENV.fetch('AWS_LAMBDA_LOG_LEVEL', 'INFO').upcase, Logger::INFO) unless
          kwargs.key?(:level)
        return if kwargs.key?(:formatter)

        self.formatter = proc do |severity, time, _progname, message|
          text = message.is_a?(Exception) ? "#{message.message} (#{message.class})" : message.to_s
          "#{JSON.generate('timestamp' => time.utc.strftime('%Y-%m-%dT%H:%M:%S.%LZ'), 'level' => severity,
                           'message' => text, 'requestId' => LaminaRuntime.request_id)}\n"
        end
      end
    end
  end
  Logger.prepend(LaminaRuntime::JsonLogger)
end

receiver, method = LaminaRuntime.load_handler
LaminaRuntime.run_loop(receiver, method)
